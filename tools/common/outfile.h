/*
 * outfile.h — how every tool writes a file, so that no run destroys or half-writes one.
 *
 * The discipline, for every output of every tool (traces, JSONL, JSON, TSV, .npy, safetensors, report files):
 *   - an output is declared before anything is opened for writing; a declared output that is the same file as a
 *     declared input (device and inode, so through symbolic links, hard links and "./"), the same path as another
 *     output, or an empty path, is refused with CLI_EXIT_USAGE; an existing file is refused with CLI_EXIT_OUTPUT
 *     unless the tool was given -f/--force (the one overwrite rule of tools/README.md);
 *   - it is written to a temporary file in the destination's directory (".NAME.tmp-XXXXXX") and renamed into
 *     place only by cli_out_commit(), after every byte was written and checked (and, for a trace, fsync'd with
 *     its directory); until then an existing file of that name is untouched;
 *   - on any failure (a cli_die(), an exit before the commit, SIGINT/SIGTERM/SIGHUP/SIGPIPE) the temporary files
 *     are removed, and so are the directories the run created for its outputs.
 * "-" is standard output (no temporary file; a trace cannot be written there). An existing output that is not a
 * regular file (/dev/null, a FIFO, a terminal) is written in place: it cannot be replaced, only written to.
 *
 * Ownership: handles are owned by this module and live until the process ends; paths given are not copied and
 * must outlive the handle (they are argv strings in practice). Not thread-safe: call from the main thread.
 */
#ifndef TT_CLI_OUTFILE_H
#define TT_CLI_OUTFILE_H

#include <stdio.h>

#define CLI_OUT_TRACE 0x1u /* written by tt_writer at cli_out_path(); fsync'd before and after the rename */
#define CLI_OUT_FORCE 0x2u /* -f/--force: an existing file may be replaced */

typedef struct cli_out cli_out;

/*! cli_input() : declares an input ("-" = standard input), so that no output can be the same file. Inputs that
 *  do not exist are ignored here (opening them reports it). Call before declaring outputs. */
void cli_input(const char *path);

/*! cli_out_declare() : declares an output. `opt` names the option for messages ("-o", "--json"). Exits with
 *  CLI_EXIT_USAGE for an empty path, "-" for a trace, an output that is a declared input or the path of another
 *  declared output; with CLI_EXIT_OUTPUT for an existing file without CLI_OUT_FORCE. Creates nothing. */
cli_out *cli_out_declare(const char *path, const char *opt, unsigned flags);

/*! cli_out_open() : creates the temporary file (or takes standard output, or opens a device in place) and
 *  returns a stream on it; for a CLI_OUT_TRACE output the stream is NULL and cli_out_path() is what to give
 *  tt_writer_open() (with overwrite set). Exits with CLI_EXIT_OUTPUT naming the output when it cannot be
 *  created (no such directory, permission). Calling it again returns the same stream. */
FILE *cli_out_open(cli_out *o);

/*! cli_out_path() : the file actually written (the temporary file, once opened); cli_out_name() : the output
 *  as messages name it ("standard output", or the path as given). */
const char *cli_out_path(const cli_out *o);
const char *cli_out_name(const cli_out *o);

/*! cli_out_msg() : msg with the temporary file's name replaced by the output's name (a writer's messages name
 *  the file it writes). Returns msg itself or buf. */
const char *cli_out_msg(const cli_out *o, const char *msg, char *buf, size_t len);

/*! cli_out_close() : flushes and closes the stream (standard output is flushed, not closed); exits with
 *  CLI_EXIT_OUTPUT naming the output when anything written was lost (disk full, /dev/full, a closed stdout).
 *  The result is not yet in place: see cli_out_commit(). */
void cli_out_close(cli_out *o);

/*! cli_out_commit() : closes (if open), then for a temporary file: fsync for a trace, rename over the
 *  destination, fsync of the directory for a trace. Exits with CLI_EXIT_OUTPUT on failure, the temporary file
 *  removed and the destination untouched. */
void cli_out_commit(cli_out *o);

/*! cli_out_discard() : closes and removes the temporary file; the destination stays as it was. */
void cli_out_discard(cli_out *o);

/*! cli_out_mkdir() : creates the directory dir and its missing parents (mkdir -p) for outputs to go in; those it
 *  created are removed again (when empty) if the run fails. Exits with CLI_EXIT_OUTPUT naming what could not be
 *  made or is not a directory. */
void cli_out_mkdir(const char *dir);

/*! cli_out_cleanup_path() : a temporary file of the run that is not an output (a spooled standard input): it is
 *  removed when the process ends, however it ends. The path is copied. */
cli_out *cli_out_cleanup_path(const char *path);
/*! cli_out_forget() : the file was removed by its owner; nothing to do at exit. NULL is a no-op. */
void cli_out_forget(cli_out *o);

/*! cli_out_failed() : marks the run as failed, so that the exit removes what it created (cli_die() calls it). */
void cli_out_failed(void);

#endif /* TT_CLI_OUTFILE_H */
