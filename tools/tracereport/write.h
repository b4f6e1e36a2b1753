/*
 * write.h — the three outputs of a report: report.md (the document in Markdown), report.tsv (the layer x stage
 * grid as data: one row per cell and mode, or per cell before and after for a comparison) and report.html (the
 * document with its figures, one self-contained file). Each writes to an open stream; the caller opens, checks
 * and renames the files (tracereport.c).
 */
#ifndef TRACEREPORT_WRITE_H
#define TRACEREPORT_WRITE_H

#include <stdio.h>

#include "report.h"

void rp_write_md(FILE *f, const rp_report *rep);
void rp_write_tsv(FILE *f, const rp_report *rep);
/* @return : 0, or -1 when memory ran out while drawing */
int rp_write_html(FILE *f, const rp_report *rep);

#endif /* TRACEREPORT_WRITE_H */
