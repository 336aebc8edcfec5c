/*
** static_files.h — the web console's files, compiled into imcastd (cmake/embed_files.cmake).
*/
#ifndef IMCAST_STATIC_FILES_H
#define IMCAST_STATIC_FILES_H

#include <stddef.h>

typedef struct static_file {
  const char *path;              /* URL path, e.g. "/console/index.html" */
  const unsigned char *data;
  size_t len;
} static_file;

/* Ends with an entry whose path is NULL. */
extern const static_file static_files[];

#endif
