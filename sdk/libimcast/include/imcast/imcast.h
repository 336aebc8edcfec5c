/*
** imcast.h — libimcast, the C admin SDK of imcast (and of Tencent Cloud IM's all-member push).
**
** A backend uses it to call imcastd's REST API (docs/rest-api.md): import accounts, name
** attribute slots, set users' attributes and tags, push a message to every account or to
** those matching tags or attributes, follow and revoke a push. The calls mirror the Java
** SDK io.github.doocs.im: its `client.member.imPush(request)` is
** `imcast_member_im_push(client, &request, &result, &err)` here, and so on for every call.
** It also makes and checks UserSigs (the very code imcastd runs), and receives pushes as
** an end user (imcast_listener, on the WebSocket protocol of docs/client-protocol.md).
**
**   imcast_error err;
**   imcast_client *c = imcast_client_new_from_env(&err);    // IMCAST_URL, IMCAST_KEY, ...
**   imcast_msg_elem hi = {.type = IMCAST_TEXT_ELEM, .text = {.text = "hi, beauty"}};
**   imcast_push_request req = {.msg_body = &hi, .msg_body_count = 1, .msg_life_time = 120};
**   imcast_push_result res;
**   if (imcast_member_im_push(c, &req, &res, &err) == IMCAST_OK)
**     printf("TaskId %s\n", res.task_id);
**   else
**     fprintf(stderr, "%s\n", err.error_info);
**   imcast_push_result_free(&res);
**   imcast_client_free(c);
**
** Build: cc app.c $(pkg-config --cflags --libs imcast)
**
** CONVENTIONS (they hold for every function below)
**
** Ownership. The library never keeps a pointer the caller gave it: request structs and
** their strings need only live during the call. A call that returns something fills a
** caller-provided result struct (usually on the stack). Everything a result points to is
** owned by that result and released, all at once, by that result type's one _free
** function (imcast_push_result_free, ...). Every call zeroes its result first, and leaves
** it zeroed when it fails, so _free may always be called: on a zeroed, a failed, a filled
** or an already freed result. Strings the library allocates for you on their own (answer
** of imcast_call) are released with imcast_free. Objects (client, listener) have _new and
** _free.
**
** Lists. Every list is a pointer and a count (`const char *const *to_account, size_t
** count`). IMCAST_COUNTOF(array) helps with fixed arrays.
**
** Strings are NUL-terminated UTF-8. Optional strings are NULL when absent; a NULL
** optional string is left out of the request.
**
** Errors. Every call returns an imcast_status and, when `err` is not NULL, fills *err:
** IMCAST_OK (err->status 0, everything else zero), IMCAST_E_TENCENT when the server
** answered with ActionStatus FAIL (err->error_code is Tencent's ErrorCode, err->error_info
** its ErrorInfo), IMCAST_E_TRANSPORT when no answer came (DNS, connect, TLS, timeout,
** reset: err->curl_code), IMCAST_E_PROTOCOL when what came back is not the REST envelope
** (err->http_status), IMCAST_E_INVALID for an argument refused before anything was sent,
** IMCAST_E_NOMEM. Tencent errors and transport errors are never mixed up: a FAIL answer
** is IMCAST_E_TENCENT whatever its HTTP status. A success may still carry per-account
** errors in the result's error_list (unknown accounts in attribute and tag calls,
** docs/rest-api.md §4.6).
**
** Threads. An imcast_client is not thread-safe: use one client per thread (or serialize
** the calls on a client yourself). Different clients are independent and may be used at
** the same time from different threads. The usersig functions and the result _free
** functions touch no shared state and are safe from any thread. libcurl's global set-up
** is done once, thread-safely, by the first imcast_client_new*. An imcast_listener runs on
** the thread that calls imcast_listener_run; only imcast_listener_stop may be called
** from another thread (or a signal handler).
**
** Connections. A client keeps one HTTP/1.1 keep-alive connection (TLS for https://) and
** reuses it for every call; it mints its admin UserSig itself, renews it before it
** expires, and after an answer of 70001 (expired: e.g. a skewed clock) mints a fresh one
** and sends the call once more.
*/
#ifndef IMCAST_IMCAST_H
#define IMCAST_IMCAST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define IMCAST_API __attribute__((visibility("default")))
#else
#define IMCAST_API
#endif

#define IMCAST_VERSION "0.1.0"

/* The number of elements of a fixed array, for the counts of lists. */
#define IMCAST_COUNTOF(array) (sizeof(array) / sizeof((array)[0]))

/* The library's version string (IMCAST_VERSION of the build). */
IMCAST_API const char *imcast_version(void);

/* Releases memory the library handed out on its own (imcast_call's answer). NULL is ok. */
IMCAST_API void imcast_free(void *p);

/* ================================================================== errors ========= */

typedef enum imcast_status {
  IMCAST_OK = 0,
  IMCAST_E_TENCENT = 1,   /* the server answered FAIL: error_code and error_info */
  IMCAST_E_TRANSPORT = 2, /* no answer: resolve, connect, TLS, timeout, reset (curl_code) */
  IMCAST_E_PROTOCOL = 3,  /* an answer that is not the REST envelope (http_status) */
  IMCAST_E_INVALID = 4,   /* a bad argument, refused before anything was sent */
  IMCAST_E_NOMEM = 5      /* out of memory */
} imcast_status;

#define IMCAST_ERROR_INFO_MAX 512

typedef struct imcast_error {
  imcast_status status;
  int error_code;     /* Tencent's ErrorCode when status is IMCAST_E_TENCENT, else 0 */
  int http_status;    /* the answer's HTTP status; 0 when there was no answer */
  int curl_code;      /* libcurl's CURLcode when status is IMCAST_E_TRANSPORT, else 0 */
  char error_info[IMCAST_ERROR_INFO_MAX]; /* ErrorInfo, or what went wrong (truncated to
                                             fit; always NUL-terminated; "" when OK) */
} imcast_error;

/* "OK", "Tencent error", "transport error", ... */
IMCAST_API const char *imcast_status_name(imcast_status status);

/* ================================================================== UserSig ======== */

/* A buffer this large always holds a UserSig made by imcast_usersig_gen. */
#define IMCAST_USERSIG_MAX 2048

typedef struct imcast_usersig_info {
  char identifier[64];  /* TLS.identifier */
  uint64_t sdkappid;    /* TLS.sdkappid */
  int64_t time;         /* TLS.time, unix seconds */
  int64_t expire;       /* TLS.expire, seconds */
} imcast_usersig_info;

/* Makes a UserSig v2 (TLSSigAPIv2) for `identifier`, valid from now for `expire` seconds,
 * signed with the app's secret `key`. Writes a NUL-terminated string into out (outlen
 * bytes; IMCAST_USERSIG_MAX is always enough). Returns its length, or -1 when out is too
 * small or an argument is bad (NULL, an identifier that is empty, longer than 63 bytes
 * or not UTF-8, a negative expire). Thread-safe. */
IMCAST_API int imcast_usersig_gen(const char *key, uint64_t sdkappid, const char *identifier,
                                  int64_t expire, char *out, size_t outlen);

/* The same with an explicit issue time `now` (unix seconds). */
IMCAST_API int imcast_usersig_gen_at(const char *key, uint64_t sdkappid,
                                     const char *identifier, int64_t now, int64_t expire,
                                     char *out, size_t outlen);

/* Verifies a UserSig the way imcastd does: 0 when valid now for this sdkappid and
 * identifier, else Tencent's code: 70001 expired, 70002 empty (or NULL), 70003
 * undecodable (or a NULL key or identifier), 70009 signature mismatch, 70013 other
 * identifier, 70014 other sdkappid. info (may be NULL) receives the sig's fields whenever
 * it decodes, and is zeroed otherwise. Thread-safe. */
IMCAST_API int imcast_usersig_verify(const char *key, const char *sig, uint64_t sdkappid,
                                     const char *identifier, imcast_usersig_info *info);

/* The same at time `now` (unix seconds). */
IMCAST_API int imcast_usersig_verify_at(const char *key, const char *sig, uint64_t sdkappid,
                                        const char *identifier, int64_t now,
                                        imcast_usersig_info *info);

/* ================================================================== client ========= */

typedef struct imcast_client imcast_client;

/* A zeroed struct plus url, sdkappid, admin and key is complete: zero means default. */
typedef struct imcast_client_options {
  const char *url;           /* "http://host[:port][/prefix]" or "https://..." */
  uint64_t sdkappid;
  const char *admin;         /* the admin identifier; NULL = "administrator" */
  const char *key;           /* the app's secret key */
  const char *ca_file;       /* https: PEM bundle of trusted CAs; NULL = the system's */
  int insecure;              /* https: do not verify the certificate (tests only) */
  long timeout_ms;           /* whole call; 0 = 30000 */
  long connect_timeout_ms;   /* 0 = 10000 */
  int64_t usersig_expire;    /* lifetime of the admin UserSigs minted; 0 = 86400 s. A
                                sig is renewed once less than a quarter of it is left */
} imcast_client_options;

/* A client for url/sdkappid/admin/key. NULL on failure, with *err saying why
 * (IMCAST_E_INVALID: a URL that is not http(s)://, no key, a bad admin identifier). No
 * connection is made before the first call. */
IMCAST_API imcast_client *imcast_client_new(const char *url, uint64_t sdkappid,
                                            const char *admin, const char *key,
                                            imcast_error *err);

/* The same with every option. */
IMCAST_API imcast_client *imcast_client_new_with_options(const imcast_client_options *opts,
                                                         imcast_error *err);

/* A client configured from the environment, with imcastd's defaults:
 *   IMCAST_URL       default http://127.0.0.1:8080
 *   IMCAST_SDKAPPID  default 1400000000
 *   IMCAST_ADMIN     default administrator
 *   IMCAST_KEY       required
 *   IMCAST_CA_FILE   optional (https)
 * NULL with IMCAST_E_INVALID when IMCAST_KEY is missing or a value is malformed. */
IMCAST_API imcast_client *imcast_client_new_from_env(imcast_error *err);

/* Closes the connection and releases the client. NULL is ok. */
IMCAST_API void imcast_client_free(imcast_client *c);

/* The body of the last answer the client received (OK or FAIL), as sent by the server;
 * "" before the first. Valid until the next call on this client. *len (may be NULL)
 * receives its length. The CLI's --json prints this. */
IMCAST_API const char *imcast_client_last_answer(const imcast_client *c, size_t *len);

/* Any REST call, untyped: POSTs body_json (NULL = "{}") to /v4/service/command. On
 * IMCAST_OK or IMCAST_E_TENCENT, *answer (when answer is not NULL) receives the answer's
 * JSON text (release it with imcast_free); otherwise it is set to NULL. */
IMCAST_API imcast_status imcast_call(imcast_client *c, const char *service,
                                     const char *command, const char *body_json,
                                     char **answer, imcast_error *err);

/* ================================================================== messages ======= */

/* The MsgType of an element of MsgBody (Tencent's TIM*Elem). */
typedef enum imcast_msg_type {
  IMCAST_TEXT_ELEM = 1,      /* TIMTextElem */
  IMCAST_LOCATION_ELEM,      /* TIMLocationElem */
  IMCAST_FACE_ELEM,          /* TIMFaceElem */
  IMCAST_CUSTOM_ELEM,        /* TIMCustomElem (at most one per message) */
  IMCAST_SOUND_ELEM,         /* TIMSoundElem */
  IMCAST_IMAGE_ELEM,         /* TIMImageElem */
  IMCAST_FILE_ELEM,          /* TIMFileElem */
  IMCAST_VIDEO_FILE_ELEM     /* TIMVideoFileElem */
} imcast_msg_type;

/* Integer members are always sent (they are Tencent's required fields); NULL strings are
 * left out. The receiver gets MsgContent exactly as sent. */
typedef struct imcast_text_elem {
  const char *text;                       /* Text (required) */
} imcast_text_elem;

typedef struct imcast_location_elem {
  const char *desc;                       /* Desc */
  double latitude, longitude;             /* Latitude, Longitude */
} imcast_location_elem;

typedef struct imcast_face_elem {
  int index;                              /* Index */
  const char *data;                       /* Data */
} imcast_face_elem;

typedef struct imcast_custom_elem {
  const char *data;                       /* Data: your payload, often JSON text */
  const char *desc;                       /* Desc */
  const char *ext;                        /* Ext */
  const char *sound;                      /* Sound */
} imcast_custom_elem;

typedef struct imcast_sound_elem {
  const char *url;                        /* Url */
  const char *uuid;                       /* UUID */
  int64_t size;                           /* Size, bytes */
  int second;                             /* Second, duration */
  int download_flag;                      /* Download_Flag (2 = by Url) */
} imcast_sound_elem;

typedef struct imcast_image_info {
  int type;                               /* Type: 1 original, 2 large, 3 thumbnail */
  int64_t size;                           /* Size, bytes */
  int width, height;                      /* Width, Height */
  const char *url;                        /* URL */
} imcast_image_info;

typedef struct imcast_image_elem {
  const char *uuid;                       /* UUID */
  int image_format;                       /* ImageFormat: 1 JPG, 2 GIF, 3 PNG, 4 BMP, 255 other */
  const imcast_image_info *image_info;    /* ImageInfoArray */
  size_t image_info_count;
} imcast_image_elem;

typedef struct imcast_file_elem {
  const char *url;                        /* Url */
  const char *uuid;                       /* UUID */
  int64_t file_size;                      /* FileSize */
  const char *file_name;                  /* FileName */
  int download_flag;                      /* Download_Flag */
} imcast_file_elem;

typedef struct imcast_video_file_elem {
  const char *video_url;                  /* VideoUrl */
  const char *video_uuid;                 /* VideoUUID */
  int64_t video_size;                     /* VideoSize */
  int video_second;                       /* VideoSecond */
  const char *video_format;               /* VideoFormat, e.g. "mp4" */
  int video_download_flag;                /* VideoDownloadFlag */
  const char *thumb_url;                  /* ThumbUrl */
  const char *thumb_uuid;                 /* ThumbUUID */
  int64_t thumb_size;                     /* ThumbSize */
  int thumb_width, thumb_height;          /* ThumbWidth, ThumbHeight */
  const char *thumb_format;               /* ThumbFormat, e.g. "JPG" */
  int thumb_download_flag;                /* ThumbDownloadFlag */
} imcast_video_file_elem;

/* One element of MsgBody: set `type` and the member of the same name.
 *   imcast_msg_elem e = {.type = IMCAST_TEXT_ELEM, .text = {.text = "hi"}}; */
typedef struct imcast_msg_elem {
  imcast_msg_type type;
  union {
    imcast_text_elem text;
    imcast_location_elem location;
    imcast_face_elem face;
    imcast_custom_elem custom;
    imcast_sound_elem sound;
    imcast_image_elem image;
    imcast_file_elem file;
    imcast_video_file_elem video_file;
  };
} imcast_msg_elem;

/* OfflinePushInfo, forwarded verbatim to receivers. Zero ints and NULL strings are left out
 * (zero is Tencent's default for each of them). */
typedef struct imcast_android_info {
  const char *sound;                      /* Sound */
  const char *huawei_channel_id;          /* HuaWeiChannelID */
  const char *xiaomi_channel_id;          /* XiaoMiChannelID */
  const char *oppo_channel_id;            /* OPPOChannelID */
  const char *google_channel_id;          /* GoogleChannelID */
  int vivo_classification;                /* VIVOClassification: 0 operational, 1 system */
  const char *huawei_importance;          /* HuaWeiImportance: "NORMAL" or "LOW" */
} imcast_android_info;

typedef struct imcast_apns_info {
  const char *sound;                      /* Sound */
  int badge_mode;                         /* BadgeMode: 0 counts, 1 does not */
  const char *title;                      /* Title */
  const char *sub_title;                  /* SubTitle */
  const char *image;                      /* Image */
  int mutable_content;                    /* MutableContent: 1 = iOS 10 extension */
} imcast_apns_info;

typedef struct imcast_offline_push_info {
  int push_flag;                          /* PushFlag: 0 push, 1 do not push */
  const char *title;                      /* Title */
  const char *desc;                       /* Desc */
  const char *ext;                        /* Ext: passed through to the app */
  const imcast_android_info *android_info; /* AndroidInfo, NULL = none */
  const imcast_apns_info *apns_info;      /* ApnsInfo, NULL = none */
} imcast_offline_push_info;

/* One attribute: name -> value. */
typedef struct imcast_attr {
  const char *name;
  const char *value;
} imcast_attr;

/* Condition: who receives a push. Empty lists are left out; a NULL Condition or one with
 * every list empty means every account. Tags and attributes cannot be mixed (90039). */
typedef struct imcast_condition {
  const char *const *tags_and;            /* TagsAnd: has all of these tags */
  size_t tags_and_count;
  const char *const *tags_or;             /* TagsOr: has at least one of these */
  size_t tags_or_count;
  const imcast_attr *attrs_and;           /* AttrsAnd: has all of these values */
  size_t attrs_and_count;
  const imcast_attr *attrs_or;            /* AttrsOr: has at least one of these */
  size_t attrs_or_count;
} imcast_condition;

/* ================================================================== member calls === */
/* Service all_member_push: the Java SDK's client.member. */

typedef struct imcast_mem imcast_mem; /* the memory of one result: private */

/* A per-account error inside a successful answer (ErrorList). */
typedef struct imcast_account_error {
  const char *to_account;
  int error_code;                         /* e.g. 70107: not imported */
  const char *error_info;                 /* "" when the server sent none */
} imcast_account_error;

typedef struct imcast_push_request {
  uint32_t msg_random;                    /* MsgRandom; 0 = draw one at random. Repeating
                                             one within 7 days makes a safe retry */
  const imcast_msg_elem *msg_body;        /* MsgBody, at least one element */
  size_t msg_body_count;
  uint32_t msg_life_time;                 /* MsgLifeTime, s (<= 604800); 0 = online only */
  const char *from_account;               /* From_Account; NULL = the admin */
  const imcast_condition *condition;      /* Condition; NULL = every account */
  const imcast_offline_push_info *offline_push_info; /* NULL = none */
} imcast_push_request;

typedef struct imcast_push_result {
  const char *task_id;                    /* TaskId */
  uint32_t msg_random;                    /* the MsgRandom sent (the drawn one when 0) */
  imcast_mem *mem;
} imcast_push_result;
IMCAST_API void imcast_push_result_free(imcast_push_result *r);

/* im_push: pushes a message to every account, or to those matching the condition. */
IMCAST_API imcast_status imcast_member_im_push(imcast_client *c, const imcast_push_request *req,
                                               imcast_push_result *res, imcast_error *err);

#define IMCAST_ATTR_SLOTS 10

/* im_set_attr_name: names[i] becomes the name of slot i; NULL leaves slot i as it is. */
IMCAST_API imcast_status imcast_member_im_set_attr_name(
    imcast_client *c, const char *const names[IMCAST_ATTR_SLOTS], imcast_error *err);

typedef struct imcast_attr_names_result {
  const char *names[IMCAST_ATTR_SLOTS];   /* names[i]: slot i's name, NULL when unnamed */
  imcast_mem *mem;
} imcast_attr_names_result;
IMCAST_API void imcast_attr_names_result_free(imcast_attr_names_result *r);

/* im_get_attr_name: the app's attribute names. */
IMCAST_API imcast_status imcast_member_im_get_attr_name(imcast_client *c,
                                                        imcast_attr_names_result *res,
                                                        imcast_error *err);

/* One user's attributes (im_set_attr's items; im_get_attr's answer). */
typedef struct imcast_user_attrs {
  const char *to_account;
  const imcast_attr *attrs;
  size_t attr_count;
} imcast_user_attrs;

/* One user's attribute names to remove (im_remove_attr's items). */
typedef struct imcast_user_attr_names {
  const char *to_account;
  const char *const *names;
  size_t name_count;
} imcast_user_attr_names;

/* One user's tags (im_add_tag's and im_remove_tag's items; im_get_tag's answer). */
typedef struct imcast_user_tags {
  const char *to_account;
  const char *const *tags;
  size_t tag_count;
} imcast_user_tags;

/* The answer of a call whose only payload is the per-account ErrorList. */
typedef struct imcast_batch_result {
  const imcast_account_error *error_list;
  size_t error_count;
  imcast_mem *mem;
} imcast_batch_result;
IMCAST_API void imcast_batch_result_free(imcast_batch_result *r);

typedef struct imcast_user_attrs_result {
  const imcast_user_attrs *user_attrs;    /* UserAttrs, one per known account */
  size_t count;
  const imcast_account_error *error_list; /* unknown accounts */
  size_t error_count;
  imcast_mem *mem;
} imcast_user_attrs_result;
IMCAST_API void imcast_user_attrs_result_free(imcast_user_attrs_result *r);

/* im_get_attr: the attributes of up to 100 accounts. */
IMCAST_API imcast_status imcast_member_im_get_attr(imcast_client *c,
                                                   const char *const *to_account, size_t count,
                                                   imcast_user_attrs_result *res,
                                                   imcast_error *err);

/* im_set_attr: merges each user's attributes (names must be set first). res may be NULL. */
IMCAST_API imcast_status imcast_member_im_set_attr(imcast_client *c,
                                                   const imcast_user_attrs *user_attrs,
                                                   size_t count, imcast_batch_result *res,
                                                   imcast_error *err);

/* im_remove_attr: removes the named attributes of each user. res may be NULL. */
IMCAST_API imcast_status imcast_member_im_remove_attr(imcast_client *c,
                                                      const imcast_user_attr_names *user_attrs,
                                                      size_t count, imcast_batch_result *res,
                                                      imcast_error *err);

typedef struct imcast_user_tags_result {
  const imcast_user_tags *user_tags;      /* UserTags, one per known account */
  size_t count;
  const imcast_account_error *error_list; /* unknown accounts */
  size_t error_count;
  imcast_mem *mem;
} imcast_user_tags_result;
IMCAST_API void imcast_user_tags_result_free(imcast_user_tags_result *r);

/* im_get_tag: the tags of up to 100 accounts. */
IMCAST_API imcast_status imcast_member_im_get_tag(imcast_client *c,
                                                  const char *const *to_account, size_t count,
                                                  imcast_user_tags_result *res,
                                                  imcast_error *err);

/* im_add_tag: adds up to 10 tags to each of up to 100 users. res may be NULL. */
IMCAST_API imcast_status imcast_member_im_add_tag(imcast_client *c,
                                                  const imcast_user_tags *user_tags,
                                                  size_t count, imcast_batch_result *res,
                                                  imcast_error *err);

/* im_remove_tag: removes tags from users. res may be NULL. */
IMCAST_API imcast_status imcast_member_im_remove_tag(imcast_client *c,
                                                     const imcast_user_tags *user_tags,
                                                     size_t count, imcast_batch_result *res,
                                                     imcast_error *err);

/* im_remove_all_tags: removes every tag of up to 100 users. res may be NULL. */
IMCAST_API imcast_status imcast_member_im_remove_all_tags(imcast_client *c,
                                                          const char *const *to_account,
                                                          size_t count,
                                                          imcast_batch_result *res,
                                                          imcast_error *err);

typedef enum imcast_push_state {
  IMCAST_PUSH_UNKNOWN = 0,                /* a State this version does not know */
  IMCAST_PUSH_FANNING_OUT,                /* "FanningOut" */
  IMCAST_PUSH_DONE,                       /* "Done" */
  IMCAST_PUSH_EXPIRED,                    /* "Expired" */
  IMCAST_PUSH_REVOKED                     /* "Revoked" */
} imcast_push_state;

typedef struct imcast_push_report {
  const char *task_id;                    /* TaskId */
  const char *state;                      /* State as sent */
  imcast_push_state state_code;           /* State as an enum */
  int64_t audience;                       /* accounts the push is for */
  int64_t online_at_push;                 /* of them online when it was pushed */
  int64_t delivered;                      /* accounts that acknowledged it */
  int64_t pending;                        /* audience - delivered while it lives */
  int64_t created_at, expires_at;         /* unix seconds */
  int64_t fanout_done_at;                 /* unix seconds; 0 while fanning out */
  imcast_mem *mem;
} imcast_push_report;
IMCAST_API void imcast_push_report_free(imcast_push_report *r);

/* im_get_push_report [imcast extension]: how far a push has come. */
IMCAST_API imcast_status imcast_member_im_get_push_report(imcast_client *c,
                                                          const char *task_id,
                                                          imcast_push_report *res,
                                                          imcast_error *err);

/* im_revoke [imcast extension]: stops a push and revokes it at the receivers. */
IMCAST_API imcast_status imcast_member_im_revoke(imcast_client *c, const char *task_id,
                                                 imcast_error *err);

typedef struct imcast_audience_result {
  int64_t audience;                       /* accounts the condition selects */
  int64_t online;                         /* of them online now */
  imcast_mem *mem;
} imcast_audience_result;
IMCAST_API void imcast_audience_result_free(imcast_audience_result *r);

/* im_get_audience [imcast extension]: a dry run of a push's Condition (NULL = all). */
IMCAST_API imcast_status imcast_member_im_get_audience(imcast_client *c,
                                                       const imcast_condition *condition,
                                                       imcast_audience_result *res,
                                                       imcast_error *err);

/* ================================================================== account calls == */
/* Services im_open_login_svc and openim: the Java SDK's client.account. */

typedef struct imcast_account {
  const char *user_id;                    /* UserID (required) */
  const char *nick;                       /* Nick, NULL = none */
  const char *face_url;                   /* FaceUrl, NULL = none */
} imcast_account;

/* account_import: imports one account (importing an existing one is a success). */
IMCAST_API imcast_status imcast_account_import(imcast_client *c, const imcast_account *account,
                                               imcast_error *err);

typedef struct imcast_multi_import_result {
  const char *const *fail_accounts;       /* FailAccounts: the ones not imported */
  size_t fail_count;
  imcast_mem *mem;
} imcast_multi_import_result;
IMCAST_API void imcast_multi_import_result_free(imcast_multi_import_result *r);

/* multiaccount_import: imports up to 100 accounts. res may be NULL. */
IMCAST_API imcast_status imcast_account_multi_import(imcast_client *c,
                                                     const char *const *accounts, size_t count,
                                                     imcast_multi_import_result *res,
                                                     imcast_error *err);

/* One ResultItem of account_delete and account_check. */
typedef struct imcast_account_item {
  const char *user_id;                    /* UserID */
  int result_code;                        /* ResultCode, 0 = done */
  const char *result_info;                /* ResultInfo */
  const char *account_status;             /* account_check: "Imported" or "NotImported";
                                             account_delete: NULL */
  int imported;                           /* account_check: AccountStatus is "Imported" */
} imcast_account_item;

typedef struct imcast_account_items {
  const imcast_account_item *items;       /* ResultItem */
  size_t count;
  imcast_mem *mem;
} imcast_account_items;
IMCAST_API void imcast_account_items_free(imcast_account_items *r);

/* account_delete: deletes up to 100 accounts (from every tag, attribute and pending push,
 * closing their connections). res may be NULL. */
IMCAST_API imcast_status imcast_account_delete(imcast_client *c, const char *const *user_ids,
                                               size_t count, imcast_account_items *res,
                                               imcast_error *err);

/* account_check: whether each of up to 100 accounts is imported. */
IMCAST_API imcast_status imcast_account_check(imcast_client *c, const char *const *user_ids,
                                              size_t count, imcast_account_items *res,
                                              imcast_error *err);

/* kick: closes every connection of the account (with a Kicked event). */
IMCAST_API imcast_status imcast_account_kick(imcast_client *c, const char *user_id,
                                             imcast_error *err);

typedef struct imcast_platform_state {
  const char *platform;                   /* Platform, e.g. "Web" */
  const char *status;                     /* Status */
} imcast_platform_state;

typedef struct imcast_user_state {
  const char *to_account;                 /* To_Account */
  const char *status;                     /* Status: "Online" or "Offline" */
  int online;                             /* Status is "Online" */
  const imcast_platform_state *detail;    /* Detail, with need_detail: one per connection */
  size_t detail_count;
} imcast_user_state;

typedef struct imcast_query_state_result {
  const imcast_user_state *query_result;  /* QueryResult */
  size_t count;
  const imcast_account_error *error_list; /* ErrorList: unknown accounts */
  size_t error_count;
  imcast_mem *mem;
} imcast_query_state_result;
IMCAST_API void imcast_query_state_result_free(imcast_query_state_result *r);

/* openim/query_online_status: online state of up to 500 accounts; need_detail adds one
 * Detail entry per connection. */
IMCAST_API imcast_status imcast_account_query_state(imcast_client *c,
                                                    const char *const *to_account,
                                                    size_t count, int need_detail,
                                                    imcast_query_state_result *res,
                                                    imcast_error *err);

/* ================================================================== receiving ====== */
/*
** An imcast_listener is one end user's connection to imcastd (GET /v4/ws): it receives
** the pushes meant for that user, hands each to on_push, acknowledges it (so it is not
** delivered again), and reconnects with exponential backoff after a drop. It runs its own
** event loop inside imcast_listener_run, on the calling thread.
*/

typedef struct imcast_listener imcast_listener;

/* One push as received. Everything is valid only during on_push. */
typedef struct imcast_push {
  int64_t seq;                            /* Seq: the app-wide push sequence number */
  const char *task_id;                    /* TaskId */
  const char *from_account;               /* From_Account */
  const char *to_account;                 /* To_Account, NULL when the server left it out */
  uint32_t msg_random;                    /* MsgRandom */
  int64_t msg_time;                       /* MsgTime, unix seconds */
  const char *json;                       /* the whole event, as received (not NUL-ended) */
  size_t json_len;
  const char *msg_body_json;              /* its MsgBody array text (not NUL-ended) */
  size_t msg_body_json_len;
  const char *offline_push_info_json;     /* OfflinePushInfo text, NULL when absent */
  size_t offline_push_info_json_len;
  int maybe_duplicate;                    /* seen before (redelivered after a reconnect) */
} imcast_push;

/* Callbacks; each may be NULL. `user` is imcast_listener_options.user. */
typedef struct imcast_listener_callbacks {
  void (*on_connect)(void *user, const char *user_id, int64_t server_time);
  void (*on_push)(void *user, const imcast_push *push);
  void (*on_revoke)(void *user, int64_t seq, const char *task_id);
  void (*on_kicked)(void *user, const char *reason);
  /* A connection ended; will_reconnect says whether another attempt follows. */
  void (*on_disconnect)(void *user, int code, const char *reason, int will_reconnect);
  /* A connection attempt or a connection failed; err carries the reason (status
   * IMCAST_E_TENCENT with the 70xxx code when the server refused the UserSig). */
  void (*on_error)(void *user, const imcast_error *err);
} imcast_listener_callbacks;

typedef struct imcast_listener_options {
  const char *url;              /* the server's base URL: http(s):// (as for the client) or
                                   ws(s)://; /v4/ws is appended */
  uint64_t sdkappid;
  const char *user_id;          /* the receiving UserID */
  const char *usersig;          /* that user's UserSig; NULL = mint one with key */
  const char *key;              /* the app's secret key, used when usersig is NULL */
  const char *ca_file;          /* wss: PEM bundle; NULL = the system's */
  int insecure;                 /* wss: do not verify the certificate (tests only) */
  int manual_ack;               /* 1: do not acknowledge pushes automatically */
  uint32_t ack_delay_ms;        /* automatic Acks wait this long for more pushes, and one
                                   Ack covers them all; 0 = 500; UINT32_MAX = at once */
  uint32_t reconnect_max_ms;    /* backoff ceiling; 0 = 30000 (first delay 500 ms) */
  int no_reconnect;             /* 1: stop after the first connection ends */
  imcast_listener_callbacks cb;
  void *user;
} imcast_listener_options;

/* A listener; NULL with *err on a bad option. Copies the options' strings. */
IMCAST_API imcast_listener *imcast_listener_new(const imcast_listener_options *opts,
                                                imcast_error *err);

/* A listener for user_id on the client's server, with a UserSig minted from the client's
 * key: what an admin tool needs to watch one account. */
IMCAST_API imcast_listener *imcast_client_listener_new(imcast_client *c, const char *user_id,
                                                       const imcast_listener_callbacks *cb,
                                                       void *user, imcast_error *err);

/* Connects and runs until imcast_listener_stop, a Kicked event, a refused login, or (with
 * no_reconnect) the first end of the connection. Returns IMCAST_OK after a stop; else the
 * reason it ended, in *err: IMCAST_E_TENCENT with the 70xxx code for a refused login,
 * IMCAST_E_TRANSPORT for a Kicked event ("kicked by the server ...") or a connection that
 * ended for good. It may be called again after it returns. */
IMCAST_API imcast_status imcast_listener_run(imcast_listener *l, imcast_error *err);

/* Acknowledges every push up to seq (only needed with manual_ack). Call it on the
 * listener's thread, e.g. from on_push. */
IMCAST_API imcast_status imcast_listener_ack(imcast_listener *l, int64_t seq);

/* Asks a running listener to close and return from imcast_listener_run. Safe from any
 * thread and from a signal handler. */
IMCAST_API void imcast_listener_stop(imcast_listener *l);

/* Releases a listener that is not running. NULL is ok. */
IMCAST_API void imcast_listener_free(imcast_listener *l);

#ifdef __cplusplus
}
#endif

#endif /* IMCAST_IMCAST_H */
