/*
 * status.c — names and texts of the status codes, and the version string. The table below is generated from the
 * TT_STATUS_LIST X-macro in tt/common.h, so a code added there gets its name and text here without an edit.
 * Everything is read-only data: the functions are thread-safe and return pointers to static strings.
 */
#include "tt/common.h"

#include <stddef.h>
#include <string.h>

typedef struct status_entry {
    int code;
    const char *name;
    const char *text;
} status_entry;

static const status_entry status_table[] = {
#define TT_X_ENTRY(name, value, text) {value, #name, text},
    TT_STATUS_LIST(TT_X_ENTRY)
#undef TT_X_ENTRY
};

/* tt_put() and friends return these positive codes for "succeeded, stored nothing". They are not part of the
 * error list, but a caller that prints tt_strerror(rc) for every result should not read "unknown status". */
static const status_entry info_table[] = {
    {TT_FILTERED, "TT_FILTERED", "filtered: the writer's filters rejected the record"},
    {TT_DROPPED, "TT_DROPPED", "dropped: the in-flight limit was reached"},
};

/* Linear search: the list is short, and searching keeps working if released values ever leave gaps. */
static const status_entry *status_find(int status)
{
    for (size_t i = 0; i < sizeof status_table / sizeof status_table[0]; i++)
        if (status_table[i].code == status)
            return &status_table[i];
    for (size_t i = 0; i < sizeof info_table / sizeof info_table[0]; i++)
        if (info_table[i].code == status)
            return &info_table[i];
    return NULL;
}

const char *tt_strerror(int status)
{
    const status_entry *e = status_find(status);
    return e ? e->text : "unknown status";
}

const char *tt_status_name(int status)
{
    const status_entry *e = status_find(status);
    return e ? e->name : "TT_UNKNOWN_STATUS";
}

const char *tt_version(void)
{
    return TT_VERSION_STRING;
}

static const char *const shard_kind_names[] = {"none", "split", "partial"};

const char *tt_shard_kind_name(int32_t kind)
{
    return kind >= TT_SHARD_NONE && kind <= TT_SHARD_PARTIAL ? shard_kind_names[kind] : "unknown";
}

int tt_shard_kind_from_name(const char *name, int32_t *kind)
{
    for (int32_t k = TT_SHARD_NONE; name && k <= TT_SHARD_PARTIAL; k++)
        if (strcmp(name, shard_kind_names[k]) == 0 || (name[0] == '0' + k && name[1] == '\0')) {
            *kind = k;
            return TT_OK;
        }
    return TT_E_PARSE;
}
