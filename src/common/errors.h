/*
** errors.h — the one table of Tencent IM error codes that imcast answers with.
**
** Every ErrorCode the REST API or the receiver protocol can carry is listed here once,
** with its symbolic name and a default ErrorInfo. Handlers always pass a more precise
** ErrorInfo (what was wrong and where); the default is the fallback and the doc.
** 0 is success. Codes are positive ints, as on the wire.
*/
#ifndef IMCAST_ERRORS_H
#define IMCAST_ERRORS_H

#define IMC_ERROR_TABLE(X)                                                            \
  X(IMC_OK,                   0,     "")                                              \
  X(IMC_E_BAD_HTTP,           60002, "bad HTTP request")                              \
  X(IMC_E_TOO_MANY_REQUESTS,  60006, "request frequency over the limit")              \
  X(IMC_E_UNKNOWN_PATH,       60009, "unknown service or command")                    \
  X(IMC_E_NOT_ADMIN_ACCOUNT,  60010, "this call needs an admin identifier")           \
  X(IMC_E_NO_SDKAPPID,        60012, "sdkappid is missing from the URL")              \
  X(IMC_E_SIG_EXPIRED,        70001, "UserSig has expired")                           \
  X(IMC_E_SIG_EMPTY,          70002, "UserSig is empty")                              \
  X(IMC_E_SIG_MALFORMED,      70003, "UserSig cannot be decoded")                     \
  X(IMC_E_SIG_MISMATCH,       70009, "UserSig signature does not verify")             \
  X(IMC_E_SIG_IDENTIFIER,     70013, "UserSig was made for another identifier")       \
  X(IMC_E_SIG_SDKAPPID,       70014, "UserSig was made for another sdkappid")         \
  X(IMC_E_UNKNOWN_SDKAPPID,   70020, "unknown sdkappid")                              \
  X(IMC_E_NOT_IMPORTED,       70107, "account not imported")                          \
  X(IMC_E_ACCOUNT_PARAM,      70402, "invalid parameter")                             \
  X(IMC_E_JSON,               90001, "request body is not valid JSON")                \
  X(IMC_E_MSGBODY_MALFORMED,  90002, "MsgBody is malformed")                          \
  X(IMC_E_MSGRANDOM,          90005, "MsgRandom is missing or not an integer")        \
  X(IMC_E_MSGBODY_TYPE,       90007, "MsgBody is missing or not an array")            \
  X(IMC_E_NOT_ADMIN,          90009, "this call needs an admin identifier")           \
  X(IMC_E_BAD_ELEM,           90010, "bad message element")                           \
  X(IMC_E_TOO_MANY_ACCOUNTS,  90018, "too many accounts in one request")              \
  X(IMC_E_TAG_TOO_LONG,       90020, "tag is too long")                               \
  X(IMC_E_TAG_IN_BOTH,        90022, "the same tag is in TagsAnd and TagsOr")         \
  X(IMC_E_PUSH_TOO_OFTEN,     90024, "pushes are too frequent")                       \
  X(IMC_E_MSGLIFETIME,        90026, "MsgLifeTime is out of range")                   \
  X(IMC_E_TOO_MANY_TAGS,      90032, "too many tags")                                 \
  X(IMC_E_BAD_ATTR,           90033, "invalid attribute")                             \
  X(IMC_E_TAGS_AND_ATTRS,     90039, "tag and attribute conditions cannot be mixed")  \
  X(IMC_E_EMPTY_TAG,          90040, "empty tag")                                     \
  X(IMC_E_DAILY_QUOTA,        90047, "daily push quota exceeded")                     \
  X(IMC_E_UNKNOWN_TASK,       90049, "unknown or expired TaskId")                     \
  X(IMC_E_INTERNAL,           91000, "internal error")

typedef enum imc_error {
#define IMC_ERROR_ENUM(name, code, info) name = (code),
  IMC_ERROR_TABLE(IMC_ERROR_ENUM)
#undef IMC_ERROR_ENUM
} imc_error;

/* The default ErrorInfo of a code; "unknown error" for a code not in the table. */
const char *imc_error_info(int code);

#endif
