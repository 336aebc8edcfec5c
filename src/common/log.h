/*
** log.h — one line per event on stderr, logfmt: ts=... level=... msg="..." key=value...
**
** Never pass secrets or UserSigs to these functions. Thread-safe (one fprintf per line).
*/
#ifndef IMCAST_LOG_H
#define IMCAST_LOG_H

typedef enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Lines below this level are dropped. Default LOG_INFO. */
void log_set_level(log_level level);
/* Parses "debug|info|warn|error"; returns -1 for anything else. */
int log_level_parse(const char *name);

/* fmt formats the message text; it is quoted and escaped for logfmt. */
void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
