/* consumer: writes a trace with the installed library and reads it back; exit 0 when the round trip holds. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <tt/reader.h>
#include <tt/writer.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    unlink(argv[1]);
    tt_writer_options o = TT_WRITER_OPTIONS_INIT;
    o.ignore_env = 1;
    tt_writer *w;
    if (tt_writer_open(&w, argv[1], &o) != TT_OK)
        return fprintf(stderr, "%s\n", tt_writer_errmsg(w)), 1;
    float v[4] = {1, 2, 3, 4};
    uint64_t shape[1] = {4};
    tt_key k = TT_KEY_INIT;
    k.point = "attn_out";
    if (tt_put(w, &k, TT_F32, 1, shape, v) != TT_OK || tt_writer_close(w) != TT_OK)
        return fprintf(stderr, "%s\n", tt_writer_errmsg(w)), 1;
    tt_writer_free(w);
    tt_reader *r;
    float out[4] = {0};
    int rc = tt_reader_open(&r, argv[1], NULL);
    if (rc == TT_OK)
        rc = tt_reader_read(r, 0, out, sizeof out);
    if (rc != TT_OK)
        fprintf(stderr, "%s\n", tt_reader_errmsg(r));
    tt_reader_close(r);
    printf("tensortrace %s: %s\n", tt_version(), rc == TT_OK && memcmp(out, v, sizeof v) == 0 ? "ok" : "FAILED");
    return rc == TT_OK && memcmp(out, v, sizeof v) == 0 ? 0 : 1;
}
