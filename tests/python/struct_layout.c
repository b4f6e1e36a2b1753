/*
 * struct_layout.c — prints, as JSON, the size of every public struct the Python package mirrors with ctypes
 * (python/tensortrace/_lib.py) and the offset of each field, as this compiler lays them out. test_layout.py
 * compares the two, so a field added to a header without its mirror fails the tests instead of corrupting memory.
 */
#include <stddef.h>
#include <stdio.h>

#include "tt/diff.h"
#include "tt/reader.h"
#include "tt/writer.h"

static int first_struct = 1, first_field;

static void begin(const char *name, size_t size)
{
    printf("%s\"%s\": {\"size\": %zu, \"fields\": {", first_struct ? "" : ", ", name, size);
    first_struct = 0;
    first_field = 1;
}

static void field(const char *name, size_t off)
{
    printf("%s\"%s\": %zu", first_field ? "" : ", ", name, off);
    first_field = 0;
}

static void end(void)
{
    printf("}}");
}

#define F(type, name) field(#name, offsetof(type, name))

int main(void)
{
    printf("{");
    begin("tt_key", sizeof(tt_key));
    F(tt_key, prompt_id), F(tt_key, phase), F(tt_key, point), F(tt_key, layer), F(tt_key, step);
    F(tt_key, token_id), F(tt_key, logical_tok_idx), F(tt_key, pos_id), F(tt_key, rows), F(tt_key, rank);
    F(tt_key, shard_kind), F(tt_key, shard_dim), F(tt_key, shard_index), F(tt_key, shard_count);
    end();
    begin("tt_stats", sizeof(tt_stats));
    F(tt_stats, min), F(tt_stats, max), F(tt_stats, mean), F(tt_stats, absmax), F(tt_stats, l2);
    F(tt_stats, nan_count), F(tt_stats, inf_count);
    end();
    begin("tt_record", sizeof(tt_record));
    F(tt_record, index), F(tt_record, seq), F(tt_record, time_ns), F(tt_record, key), F(tt_record, dtype);
    F(tt_record, ndim), F(tt_record, shape), F(tt_record, nbytes), F(tt_record, flags), F(tt_record, hash);
    F(tt_record, stats), F(tt_record, stored_bytes), F(tt_record, payload_frames);
    end();
    begin("tt_writer_options", sizeof(tt_writer_options));
    F(tt_writer_options, size), F(tt_writer_options, mode), F(tt_writer_options, threads);
    F(tt_writer_options, inflight_bytes), F(tt_writer_options, on_full), F(tt_writer_options, zstd_level);
    F(tt_writer_options, zstd_level_set), F(tt_writer_options, shuffle), F(tt_writer_options, chunk_bytes);
    F(tt_writer_options, batch_records), F(tt_writer_options, flush_ms), F(tt_writer_options, layers);
    F(tt_writer_options, points), F(tt_writer_options, prompts), F(tt_writer_options, phases);
    F(tt_writer_options, ignore_env), F(tt_writer_options, overwrite), F(tt_writer_options, rank);
    F(tt_writer_options, rank_set), F(tt_writer_options, world_size), F(tt_writer_options, payload_filter);
    end();
    begin("tt_writer_counters", sizeof(tt_writer_counters));
    F(tt_writer_counters, puts), F(tt_writer_counters, filtered), F(tt_writer_counters, dropped);
    F(tt_writer_counters, written), F(tt_writer_counters, bytes_raw), F(tt_writer_counters, bytes_stored);
    F(tt_writer_counters, payload_frames), F(tt_writer_counters, batches), F(tt_writer_counters, file_bytes);
    F(tt_writer_counters, errors);
    end();
    begin("tt_reader_options", sizeof(tt_reader_options));
    F(tt_reader_options, size), F(tt_reader_options, recovery), F(tt_reader_options, cache_batches);
    end();
    begin("tt_file_info", sizeof(tt_file_info));
    F(tt_file_info, format_major), F(tt_file_info, format_minor), F(tt_file_info, file_size);
    F(tt_file_info, record_count), F(tt_file_info, batch_count), F(tt_file_info, payload_frame_count);
    F(tt_file_info, meta_count), F(tt_file_info, chunk_bytes), F(tt_file_info, footer_intact);
    F(tt_file_info, counters_known), F(tt_file_info, counters), F(tt_file_info, created_ns);
    F(tt_file_info, closed_ns), F(tt_file_info, writer), F(tt_file_info, damaged_frames);
    F(tt_file_info, lost_records), F(tt_file_info, scan_end);
    end();
    begin("tt_diff_options", sizeof(tt_diff_options));
    F(tt_diff_options, size), F(tt_diff_options, mode), F(tt_diff_options, align), F(tt_diff_options, key);
    F(tt_diff_options, stages), F(tt_diff_options, cache_points), F(tt_diff_options, tols);
    F(tt_diff_options, threads), F(tt_diff_options, jump_ratio), F(tt_diff_options, jump_floor);
    F(tt_diff_options, topk), F(tt_diff_options, slab_bytes), F(tt_diff_options, verify_identical),
        F(tt_diff_options, allow_nonfinite), F(tt_diff_options, stat_threshold);
    end();
    begin("tt_diff_json_options", sizeof(tt_diff_json_options));
    F(tt_diff_json_options, size), F(tt_diff_json_options, left_conds), F(tt_diff_json_options, left_nconds);
    F(tt_diff_json_options, right_conds), F(tt_diff_json_options, right_nconds);
    end();
    printf("}\n");
    return 0;
}
