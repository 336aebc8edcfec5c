/*
** test_libimcast.c — libimcast without imcastd: the body of every call, the reading of
** every answer, the separation of Tencent errors from transport and protocol errors, the
** ownership rule of results, and the UserSig wrappers.
**
** Bodies are compared as JSON values with the documented shapes (docs/rest-api.md). The
** error paths run through the real client against a canned one-request HTTP server on a
** thread (canned_server), so the URL, the UserSig and the 70001 renewal are checked on
** the wire too.
*/
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "imcast/imcast.h"
#include "sdk_internal.h"

static const char test_key[] = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
#define APPID 1400000000u

/* Asserts that body (consumed) equals the JSON text `want`. */
static void assert_body(json_t *body, const char *want)
{
  assert_non_null(body);
  json_error_t jerr;
  json_t *expected = json_loads(want, 0, &jerr);
  if (expected == NULL)
    fail_msg("bad expected JSON: %s", jerr.text);
  if (!json_equal(body, expected)) {
    char *got = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    char *exp = json_dumps(expected, JSON_COMPACT | JSON_SORT_KEYS);
    print_error("got  %s\nwant %s\n", got, exp);
    free(got);
    free(exp);
    fail();
  }
  json_decref(expected);
  json_decref(body);
}

static void assert_invalid(json_t *body, const imcast_error *err, const char *names)
{
  assert_null(body);
  assert_int_equal(err->status, IMCAST_E_INVALID);
  if (strstr(err->error_info, names) == NULL)
    fail_msg("error_info \"%s\" should name %s", err->error_info, names);
}

/* ----------------------------------------------------------------- im_push body --- */

static void push_body_minimal(void **state)
{
  imcast_error err;
  imcast_msg_elem hi = {.type = IMCAST_TEXT_ELEM, .text = {.text = "hi, beauty"}};
  imcast_push_request req = {.msg_body = &hi, .msg_body_count = 1, .msg_life_time = 120,
                             .from_account = "admin"};
  assert_body(sdk_req_push(&req, 9312457, &err),
              "{\"MsgRandom\":9312457,\"MsgBody\":[{\"MsgType\":\"TIMTextElem\","
              "\"MsgContent\":{\"Text\":\"hi, beauty\"}}],\"MsgLifeTime\":120,"
              "\"From_Account\":\"admin\"}");
  assert_int_equal(err.status, IMCAST_OK);
}

static void push_body_condition_and_offline(void **state)
{
  imcast_error err;
  const char *and_tags[] = {"a", "b"}, *or_tags[] = {"c"};
  imcast_attr and_attrs[] = {{"sex", "F"}}, or_attrs[] = {{"city", "SZ"}, {"city2", "BJ"}};
  imcast_condition cond = {and_tags, 2, or_tags, 1, and_attrs, 1, or_attrs, 2};
  imcast_android_info android = {.sound = "a.mp3", .huawei_channel_id = "hw",
                                 .xiaomi_channel_id = "mi", .oppo_channel_id = "op",
                                 .google_channel_id = "gg", .vivo_classification = 1,
                                 .huawei_importance = "NORMAL"};
  imcast_apns_info apns = {.sound = "b.caf", .badge_mode = 1, .title = "T", .sub_title = "S",
                           .image = "http://i", .mutable_content = 1};
  imcast_offline_push_info off = {.push_flag = 1, .title = "t", .desc = "d", .ext = "e",
                                  .android_info = &android, .apns_info = &apns};
  imcast_msg_elem hi = {.type = IMCAST_TEXT_ELEM, .text = {.text = "x"}};
  imcast_push_request req = {.msg_body = &hi, .msg_body_count = 1, .condition = &cond,
                             .offline_push_info = &off};
  assert_body(sdk_req_push(&req, 0, &err),
              "{\"MsgRandom\":0,\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":"
              "{\"Text\":\"x\"}}],\"MsgLifeTime\":0,\"Condition\":{\"TagsAnd\":[\"a\",\"b\"],"
              "\"TagsOr\":[\"c\"],\"AttrsAnd\":{\"sex\":\"F\"},\"AttrsOr\":{\"city\":\"SZ\","
              "\"city2\":\"BJ\"}},\"OfflinePushInfo\":{\"PushFlag\":1,\"Title\":\"t\","
              "\"Desc\":\"d\",\"Ext\":\"e\",\"AndroidInfo\":{\"Sound\":\"a.mp3\","
              "\"HuaWeiChannelID\":\"hw\",\"XiaoMiChannelID\":\"mi\",\"OPPOChannelID\":\"op\","
              "\"GoogleChannelID\":\"gg\",\"VIVOClassification\":1,\"HuaWeiImportance\":"
              "\"NORMAL\"},\"ApnsInfo\":{\"Sound\":\"b.caf\",\"BadgeMode\":1,\"Title\":\"T\","
              "\"SubTitle\":\"S\",\"Image\":\"http://i\",\"MutableContent\":1}}}");
}

static void push_body_empty_condition_is_left_out(void **state)
{
  imcast_error err;
  imcast_condition empty = {0};
  imcast_offline_push_info off = {0};
  imcast_msg_elem hi = {.type = IMCAST_TEXT_ELEM, .text = {.text = "x"}};
  imcast_push_request req = {.msg_body = &hi, .msg_body_count = 1, .condition = &empty,
                             .offline_push_info = &off, .msg_life_time = 5};
  assert_body(sdk_req_push(&req, 7, &err),
              "{\"MsgRandom\":7,\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":"
              "{\"Text\":\"x\"}}],\"MsgLifeTime\":5,\"OfflinePushInfo\":{}}");
}

static void push_body_every_msg_type(void **state)
{
  imcast_error err;
  imcast_image_info infos[] = {{1, 100, 10, 20, "http://o"}, {3, 5, 1, 2, "http://t"}};
  imcast_msg_elem body[] = {
    {.type = IMCAST_TEXT_ELEM, .text = {"t"}},
    {.type = IMCAST_LOCATION_ELEM, .location = {"here", 22.5, 113.75}},
    {.type = IMCAST_FACE_ELEM, .face = {3, "smile"}},
    {.type = IMCAST_CUSTOM_ELEM, .custom = {"{\"k\":1}", "desc", "ext", "dingdong.aiff"}},
    {.type = IMCAST_SOUND_ELEM, .sound = {"http://s", "su", 1024, 3, 2}},
    {.type = IMCAST_IMAGE_ELEM, .image = {"iu", 1, infos, 2}},
    {.type = IMCAST_FILE_ELEM, .file = {"http://f", "fu", 2048, "a.txt", 2}},
    {.type = IMCAST_VIDEO_FILE_ELEM,
     .video_file = {"http://v", "vu", 4096, 9, "mp4", 2, "http://th", "tu", 512, 64, 48, "JPG",
                    2}},
  };
  imcast_push_request req = {.msg_body = body, .msg_body_count = IMCAST_COUNTOF(body)};
  assert_body(sdk_req_push(&req, 1, &err),
    "{\"MsgRandom\":1,\"MsgLifeTime\":0,\"MsgBody\":["
    "{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"t\"}},"
    "{\"MsgType\":\"TIMLocationElem\",\"MsgContent\":{\"Desc\":\"here\",\"Latitude\":22.5,"
    "\"Longitude\":113.75}},"
    "{\"MsgType\":\"TIMFaceElem\",\"MsgContent\":{\"Index\":3,\"Data\":\"smile\"}},"
    "{\"MsgType\":\"TIMCustomElem\",\"MsgContent\":{\"Data\":\"{\\\"k\\\":1}\",\"Desc\":\"desc\","
    "\"Ext\":\"ext\",\"Sound\":\"dingdong.aiff\"}},"
    "{\"MsgType\":\"TIMSoundElem\",\"MsgContent\":{\"Url\":\"http://s\",\"UUID\":\"su\","
    "\"Size\":1024,\"Second\":3,\"Download_Flag\":2}},"
    "{\"MsgType\":\"TIMImageElem\",\"MsgContent\":{\"UUID\":\"iu\",\"ImageFormat\":1,"
    "\"ImageInfoArray\":[{\"Type\":1,\"Size\":100,\"Width\":10,\"Height\":20,\"URL\":\"http://o\"},"
    "{\"Type\":3,\"Size\":5,\"Width\":1,\"Height\":2,\"URL\":\"http://t\"}]}},"
    "{\"MsgType\":\"TIMFileElem\",\"MsgContent\":{\"Url\":\"http://f\",\"UUID\":\"fu\","
    "\"FileSize\":2048,\"FileName\":\"a.txt\",\"Download_Flag\":2}},"
    "{\"MsgType\":\"TIMVideoFileElem\",\"MsgContent\":{\"VideoUrl\":\"http://v\","
    "\"VideoUUID\":\"vu\",\"VideoSize\":4096,\"VideoSecond\":9,\"VideoFormat\":\"mp4\","
    "\"VideoDownloadFlag\":2,\"ThumbUrl\":\"http://th\",\"ThumbUUID\":\"tu\",\"ThumbSize\":512,"
    "\"ThumbWidth\":64,\"ThumbHeight\":48,\"ThumbFormat\":\"JPG\",\"ThumbDownloadFlag\":2}}]}");
}

static void push_body_refuses_bad_arguments(void **state)
{
  imcast_error err;
  imcast_msg_elem none = {.type = IMCAST_TEXT_ELEM, .text = {NULL}};
  imcast_push_request req = {.msg_body = &none, .msg_body_count = 1};
  assert_invalid(sdk_req_push(&req, 1, &err), &err, "MsgBody[0].MsgContent.Text");

  req.msg_body_count = 0;
  assert_invalid(sdk_req_push(&req, 1, &err), &err, "MsgBody");

  imcast_msg_elem bad_type = {.type = (imcast_msg_type)99};
  req = (imcast_push_request){.msg_body = &bad_type, .msg_body_count = 1};
  assert_invalid(sdk_req_push(&req, 1, &err), &err, "MsgType");

  imcast_msg_elem latin1 = {.type = IMCAST_TEXT_ELEM, .text = {"caf\xe9"}};
  req = (imcast_push_request){.msg_body = &latin1, .msg_body_count = 1};
  assert_invalid(sdk_req_push(&req, 1, &err), &err, "UTF-8");

  imcast_msg_elem ok = {.type = IMCAST_TEXT_ELEM, .text = {"x"}};
  imcast_condition cond = {.tags_or = NULL, .tags_or_count = 2};
  req = (imcast_push_request){.msg_body = &ok, .msg_body_count = 1, .condition = &cond};
  assert_invalid(sdk_req_push(&req, 1, &err), &err, "TagsOr");

  imcast_attr attr = {"sex", NULL};
  cond = (imcast_condition){.attrs_and = &attr, .attrs_and_count = 1};
  assert_invalid(sdk_req_push(&req, 1, &err), &err, "AttrsAnd.sex");

  assert_invalid(sdk_req_push(NULL, 1, &err), &err, "push request");
}

/* ------------------------------------------------------------ the other bodies --- */

static void member_bodies(void **state)
{
  imcast_error err;
  const char *names[IMCAST_ATTR_SLOTS] = {[0] = "sex", [2] = "country"};
  assert_body(sdk_req_set_attr_name(names, &err),
              "{\"AttrNames\":{\"0\":\"sex\",\"2\":\"country\"}}");

  const char *ids[] = {"test1", "test2"};
  assert_body(sdk_req_to_accounts(ids, 2, &err), "{\"To_Account\":[\"test1\",\"test2\"]}");

  imcast_attr attrs[] = {{"sex", "attr1"}, {"city", "attr2"}};
  imcast_user_attrs ua = {"test1", attrs, 2};
  assert_body(sdk_req_set_attr(&ua, 1, &err),
              "{\"UserAttrs\":[{\"To_Account\":\"test1\",\"Attrs\":{\"sex\":\"attr1\","
              "\"city\":\"attr2\"}}]}");

  const char *attr_names[] = {"sex", "city"};
  imcast_user_attr_names rm = {"test1", attr_names, 2};
  assert_body(sdk_req_remove_attr(&rm, 1, &err),
              "{\"UserAttrs\":[{\"To_Account\":\"test1\",\"Attrs\":[\"sex\",\"city\"]}]}");

  const char *tags[] = {"a", "b"};
  imcast_user_tags ut[] = {{"test1", tags, 2}, {"test2", tags, 1}};
  assert_body(sdk_req_user_tags(ut, 2, &err),
              "{\"UserTags\":[{\"To_Account\":\"test1\",\"Tags\":[\"a\",\"b\"]},"
              "{\"To_Account\":\"test2\",\"Tags\":[\"a\"]}]}");

  assert_body(sdk_req_task("t_1", &err), "{\"TaskId\":\"t_1\"}");
  assert_body(sdk_req_audience(NULL, &err), "{}");
  imcast_condition cond = {.tags_and = tags, .tags_and_count = 1};
  assert_body(sdk_req_audience(&cond, &err), "{\"Condition\":{\"TagsAnd\":[\"a\"]}}");
}

static void account_bodies(void **state)
{
  imcast_error err;
  imcast_account a = {"u1", "Nick", "http://face"};
  assert_body(sdk_req_account_import(&a, &err),
              "{\"UserID\":\"u1\",\"Nick\":\"Nick\",\"FaceUrl\":\"http://face\"}");
  imcast_account bare = {"u2", NULL, NULL};
  assert_body(sdk_req_account_import(&bare, &err), "{\"UserID\":\"u2\"}");

  const char *ids[] = {"u1", "u2"};
  assert_body(sdk_req_multi_import(ids, 2, &err), "{\"Accounts\":[\"u1\",\"u2\"]}");
  assert_body(sdk_req_user_items("DeleteItem", ids, 2, &err),
              "{\"DeleteItem\":[{\"UserID\":\"u1\"},{\"UserID\":\"u2\"}]}");
  assert_body(sdk_req_user_items("CheckItem", ids, 1, &err),
              "{\"CheckItem\":[{\"UserID\":\"u1\"}]}");
  assert_body(sdk_req_kick("u1", &err), "{\"UserID\":\"u1\"}");
  assert_body(sdk_req_query_state(ids, 2, 0, &err), "{\"To_Account\":[\"u1\",\"u2\"]}");
  assert_body(sdk_req_query_state(ids, 1, 1, &err),
              "{\"To_Account\":[\"u1\"],\"IsNeedDetail\":1}");

  const char *holey[] = {"u1", NULL};
  assert_invalid(sdk_req_multi_import(holey, 2, &err), &err, "Accounts[1]");
  assert_invalid(sdk_req_kick(NULL, &err), &err, "UserID");
  imcast_user_tags no_account = {NULL, ids, 1};
  assert_invalid(sdk_req_user_tags(&no_account, 1, &err), &err, "UserTags[0].To_Account");
}

/* The per-user lists share one builder: each names the bad field by its own path. */
static void per_user_list_errors(void **state)
{
  imcast_error err;
  const char *holey[] = {"u1", NULL};
  assert_invalid(sdk_req_user_items("DeleteItem", holey, 2, &err), &err,
                 "DeleteItem[1].UserID is missing");
  assert_invalid(sdk_req_user_items("CheckItem", NULL, 1, &err), &err,
                 "CheckItem is NULL with a non-zero count");

  imcast_user_tags tags[] = {{"u1", holey, 1}, {"u2", holey, 2}};
  assert_invalid(sdk_req_user_tags(tags, 2, &err), &err, "UserTags[1].Tags[1] is missing");

  imcast_attr no_value[] = {{"sex", "m"}, {"city", NULL}};
  imcast_user_attrs ua[] = {{"u1", no_value, 1}, {"u2", no_value, 2}};
  assert_invalid(sdk_req_set_attr(ua, 2, &err), &err, "UserAttrs[1].Attrs.city is missing");
  assert_invalid(sdk_req_set_attr(NULL, 1, &err), &err,
                 "UserAttrs is NULL with a non-zero count");

  imcast_user_attr_names rm = {"u1", NULL, 1};
  assert_invalid(sdk_req_remove_attr(&rm, 1, &err), &err,
                 "UserAttrs[0].Attrs is NULL with a non-zero count");
}

/* ------------------------------------------------------------------- answers --- */

static json_t *ok_answer(const char *text)
{
  json_t *root = NULL;
  imcast_error err;
  assert_int_equal(sdk_parse_envelope(text, strlen(text), 200, &root, &err), IMCAST_OK);
  assert_int_equal(err.status, IMCAST_OK);
  return root;
}

static void envelope_separates_errors(void **state)
{
  imcast_error err;
  json_t *root;
  const char *fail = "{\"ActionStatus\":\"FAIL\",\"ErrorInfo\":\"tag too long: 'x'\","
                     "\"ErrorCode\":90020}";
  assert_int_equal(sdk_parse_envelope(fail, strlen(fail), 200, &root, &err), IMCAST_E_TENCENT);
  assert_null(root);
  assert_int_equal(err.error_code, 90020);
  assert_string_equal(err.error_info, "tag too long: 'x'");
  assert_int_equal(err.curl_code, 0);

  /* A FAIL envelope is a Tencent error whatever the HTTP status (imcastd's 413). */
  const char *too_big = "{\"ActionStatus\":\"FAIL\",\"ErrorInfo\":\"body too large\","
                        "\"ErrorCode\":60002}";
  assert_int_equal(sdk_parse_envelope(too_big, strlen(too_big), 413, &root, &err),
                   IMCAST_E_TENCENT);
  assert_int_equal(err.error_code, 60002);
  assert_int_equal(err.http_status, 413);

  const char *html = "<html><body>502 Bad Gateway</body></html>";
  assert_int_equal(sdk_parse_envelope(html, strlen(html), 502, &root, &err), IMCAST_E_PROTOCOL);
  assert_int_equal(err.error_code, 0);
  assert_int_equal(err.http_status, 502);
  assert_non_null(strstr(err.error_info, "502 Bad Gateway"));

  const char *no_code = "{\"ActionStatus\":\"OK\"}";
  assert_int_equal(sdk_parse_envelope(no_code, strlen(no_code), 200, &root, &err),
                   IMCAST_E_PROTOCOL);
  assert_int_equal(sdk_parse_envelope("", 0, 200, &root, &err), IMCAST_E_PROTOCOL);
}

static void push_answers(void **state)
{
  imcast_error err;
  imcast_push_result res;
  json_t *root = ok_answer("{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\",\"ErrorCode\":0,"
                           "\"TaskId\":\"65a_53724e00_1_8e1b09\"}");
  assert_int_equal(sdk_parse_push(root, &res, &err), IMCAST_OK);
  assert_string_equal(res.task_id, "65a_53724e00_1_8e1b09");
  imcast_push_result_free(&res);
  assert_null(res.task_id);
  imcast_push_result_free(&res); /* twice is harmless */
  json_decref(root);

  root = ok_answer("{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\",\"ErrorCode\":0}");
  assert_int_equal(sdk_parse_push(root, &res, &err), IMCAST_E_PROTOCOL);
  assert_non_null(strstr(err.error_info, "TaskId"));
  assert_null(res.task_id);
  assert_null(res.mem);
  json_decref(root);

  imcast_push_report rep;
  root = ok_answer("{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\",\"ErrorCode\":0,\"TaskId\":\"t\","
                   "\"State\":\"FanningOut\",\"Audience\":10,\"OnlineAtPush\":4,\"Delivered\":3,"
                   "\"Pending\":7,\"CreatedAt\":100,\"ExpiresAt\":220,\"FanoutDoneAt\":0}");
  assert_int_equal(sdk_parse_push_report(root, &rep, &err), IMCAST_OK);
  assert_string_equal(rep.state, "FanningOut");
  assert_int_equal(rep.state_code, IMCAST_PUSH_FANNING_OUT);
  assert_int_equal(rep.audience, 10);
  assert_int_equal(rep.online_at_push, 4);
  assert_int_equal(rep.delivered, 3);
  assert_int_equal(rep.pending, 7);
  assert_int_equal(rep.expires_at, 220);
  imcast_push_report_free(&rep);
  json_decref(root);

  root = ok_answer("{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\",\"ErrorCode\":0,\"TaskId\":\"t\","
                   "\"State\":\"Tomorrow\"}");
  assert_int_equal(sdk_parse_push_report(root, &rep, &err), IMCAST_OK);
  assert_int_equal(rep.state_code, IMCAST_PUSH_UNKNOWN);
  imcast_push_report_free(&rep);
  json_decref(root);

  imcast_audience_result aud;
  root = ok_answer("{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\",\"ErrorCode\":0,"
                   "\"Audience\":12,\"Online\":5}");
  assert_int_equal(sdk_parse_audience(root, &aud, &err), IMCAST_OK);
  assert_int_equal(aud.audience, 12);
  assert_int_equal(aud.online, 5);
  imcast_audience_result_free(&aud);
  json_decref(root);
}

static void member_answers(void **state)
{
  imcast_error err;
  imcast_attr_names_result names;
  json_t *root = ok_answer("{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\",\"ErrorCode\":0,"
                           "\"AttrNames\":{\"0\":\"sex\",\"9\":\"city\",\"x\":\"no\"}}");
  assert_int_equal(sdk_parse_attr_names(root, &names, &err), IMCAST_OK);
  assert_string_equal(names.names[0], "sex");
  assert_string_equal(names.names[9], "city");
  assert_null(names.names[1]);
  imcast_attr_names_result_free(&names);
  json_decref(root);

  imcast_user_attrs_result attrs;
  root = ok_answer("{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\",\"ErrorCode\":0,\"UserAttrs\":["
                   "{\"To_Account\":\"u1\",\"Attrs\":{\"sex\":\"F\",\"age\":30}},"
                   "{\"To_Account\":\"u2\",\"Attrs\":{}}],\"ErrorList\":[{\"To_Account\":"
                   "\"x\",\"ErrorCode\":70107,\"ErrorInfo\":\"account not imported\"}]}");
  assert_int_equal(sdk_parse_user_attrs(root, &attrs, &err), IMCAST_OK);
  assert_int_equal(attrs.count, 2);
  assert_string_equal(attrs.user_attrs[0].to_account, "u1");
  assert_int_equal(attrs.user_attrs[0].attr_count, 2);
  assert_string_equal(attrs.user_attrs[0].attrs[0].name, "sex");
  assert_string_equal(attrs.user_attrs[0].attrs[0].value, "F");
  assert_string_equal(attrs.user_attrs[0].attrs[1].value, "30");
  assert_int_equal(attrs.user_attrs[1].attr_count, 0);
  assert_int_equal(attrs.error_count, 1);
  assert_string_equal(attrs.error_list[0].to_account, "x");
  assert_int_equal(attrs.error_list[0].error_code, 70107);
  assert_string_equal(attrs.error_list[0].error_info, "account not imported");
  imcast_user_attrs_result_free(&attrs);
  json_decref(root);

  imcast_user_tags_result tags;
  root = ok_answer("{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\",\"ErrorCode\":0,\"UserTags\":["
                   "{\"To_Account\":\"u1\",\"Tags\":[\"a\",\"b\"]},{\"To_Account\":\"u2\","
                   "\"Tags\":[]}, 17]}");
  assert_int_equal(sdk_parse_user_tags(root, &tags, &err), IMCAST_OK);
  assert_int_equal(tags.count, 2); /* the stray 17 is skipped */
  assert_int_equal(tags.user_tags[0].tag_count, 2);
  assert_string_equal(tags.user_tags[0].tags[1], "b");
  assert_int_equal(tags.user_tags[1].tag_count, 0);
  assert_int_equal(tags.error_count, 0);
  imcast_user_tags_result_free(&tags);
  json_decref(root);

  imcast_batch_result batch;
  root = ok_answer("{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\",\"ErrorCode\":0}");
  assert_int_equal(sdk_parse_batch(root, &batch, &err), IMCAST_OK);
  assert_int_equal(batch.error_count, 0);
  assert_null(batch.error_list);
  imcast_batch_result_free(&batch);
  json_decref(root);
}

static void account_answers(void **state)
{
  imcast_error err;
  imcast_multi_import_result mi;
  json_t *root = ok_answer("{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\",\"ErrorCode\":0,"
                           "\"FailAccounts\":[\"bad\\u0001id\"]}");
  assert_int_equal(sdk_parse_multi_import(root, &mi, &err), IMCAST_OK);
  assert_int_equal(mi.fail_count, 1);
  assert_string_equal(mi.fail_accounts[0], "bad\001id");
  imcast_multi_import_result_free(&mi);
  json_decref(root);

  imcast_account_items items;
  root = ok_answer("{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\",\"ErrorCode\":0,\"ResultItem\":["
                   "{\"UserID\":\"u1\",\"ResultCode\":0,\"ResultInfo\":\"\",\"AccountStatus\":"
                   "\"Imported\"},{\"UserID\":\"u2\",\"ResultCode\":0,\"ResultInfo\":\"\","
                   "\"AccountStatus\":\"NotImported\"}]}");
  assert_int_equal(sdk_parse_account_items(root, &items, &err), IMCAST_OK);
  assert_int_equal(items.count, 2);
  assert_true(items.items[0].imported);
  assert_false(items.items[1].imported);
  assert_string_equal(items.items[1].account_status, "NotImported");
  imcast_account_items_free(&items);
  json_decref(root);

  root = ok_answer("{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\",\"ErrorCode\":0,\"ResultItem\":["
                   "{\"UserID\":\"u1\",\"ResultCode\":70107,\"ResultInfo\":\"no such\"}]}");
  assert_int_equal(sdk_parse_account_items(root, &items, &err), IMCAST_OK);
  assert_int_equal(items.items[0].result_code, 70107);
  assert_null(items.items[0].account_status);
  imcast_account_items_free(&items);
  json_decref(root);

  imcast_query_state_result qs;
  root = ok_answer("{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\",\"ErrorCode\":0,\"QueryResult\":["
                   "{\"To_Account\":\"u1\",\"Status\":\"Online\",\"Detail\":[{\"Platform\":"
                   "\"Web\",\"Status\":\"Online\"},{\"Platform\":\"Web\",\"Status\":\"Online\"}]},"
                   "{\"To_Account\":\"u2\",\"Status\":\"Offline\"}],\"ErrorList\":[{"
                   "\"To_Account\":\"x\",\"ErrorCode\":70107}]}");
  assert_int_equal(sdk_parse_query_state(root, &qs, &err), IMCAST_OK);
  assert_int_equal(qs.count, 2);
  assert_true(qs.query_result[0].online);
  assert_int_equal(qs.query_result[0].detail_count, 2);
  assert_string_equal(qs.query_result[0].detail[1].platform, "Web");
  assert_false(qs.query_result[1].online);
  assert_int_equal(qs.error_count, 1);
  assert_string_equal(qs.error_list[0].error_info, "");
  imcast_query_state_result_free(&qs);
  json_decref(root);
}

static void free_accepts_zeroed_results(void **state)
{
  imcast_push_result a = {0};
  imcast_user_attrs_result b = {0};
  imcast_query_state_result c = {0};
  imcast_push_result_free(&a);
  imcast_user_attrs_result_free(&b);
  imcast_query_state_result_free(&c);
  imcast_push_result_free(NULL);
}

/* ------------------------------------------------------------------- UserSig --- */

static void usersig_round_trip(void **state)
{
  char sig[IMCAST_USERSIG_MAX];
  int64_t now = (int64_t)time(NULL);
  int len = imcast_usersig_gen(test_key, APPID, "administrator", 86400, sig, sizeof sig);
  assert_true(len > 0);
  assert_int_equal((size_t)len, strlen(sig));
  imcast_usersig_info info;
  assert_int_equal(imcast_usersig_verify(test_key, sig, APPID, "administrator", &info), 0);
  assert_string_equal(info.identifier, "administrator");
  assert_int_equal(info.sdkappid, APPID);
  assert_int_equal(info.expire, 86400);
  assert_true(info.time >= now && info.time <= now + 5);

  assert_int_equal(imcast_usersig_verify("other key", sig, APPID, "administrator", NULL), 70009);
  assert_int_equal(imcast_usersig_verify(test_key, sig, APPID, "someone", NULL), 70013);
  assert_int_equal(imcast_usersig_verify(test_key, sig, APPID + 1, "administrator", NULL), 70014);
  assert_int_equal(imcast_usersig_verify(test_key, "", APPID, "administrator", NULL), 70002);
  assert_int_equal(imcast_usersig_verify(test_key, "!!", APPID, "administrator", NULL), 70003);

  assert_true(imcast_usersig_gen_at(test_key, APPID, "u1", 1000, 60, sig, sizeof sig) > 0);
  assert_int_equal(imcast_usersig_verify_at(test_key, sig, APPID, "u1", 1060, NULL), 0);
  assert_int_equal(imcast_usersig_verify_at(test_key, sig, APPID, "u1", 1061, NULL), 70001);

  assert_int_equal(imcast_usersig_gen(test_key, APPID, "", 60, sig, sizeof sig), -1);
  assert_int_equal(imcast_usersig_gen(test_key, APPID, "u1", 60, sig, 8), -1);
}

/* ------------------------------------------------------------ canned server --- */

/* Answers each of up to two connections' requests with the next canned response, and
 * keeps the request lines it saw. */
typedef struct canned_server {
  int listen_fd;
  int port;
  const char *responses[2];
  int nresponses;
  char request_lines[2][2048];
  int served;
  pthread_t thread;
} canned_server;

static ssize_t read_request(int fd, char *buf, size_t cap)
{
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r <= 0)
      return -1;
    n += (size_t)r;
    buf[n] = '\0';
    char *head_end = strstr(buf, "\r\n\r\n");
    if (head_end == NULL)
      continue;
    const char *cl = strcasestr(buf, "Content-Length:");
    size_t body = cl ? (size_t)atol(cl + 15) : 0;
    if (n >= (size_t)(head_end + 4 - buf) + body)
      return (ssize_t)n;
  }
}

static void *serve(void *arg)
{
  canned_server *s = arg;
  int fd = -1;
  char buf[16384];
  while (s->served < s->nresponses) {
    if (fd < 0 && (fd = accept(s->listen_fd, NULL, NULL)) < 0)
      break;
    if (read_request(fd, buf, sizeof buf) < 0) {
      close(fd);
      fd = -1;
      continue;
    }
    char *eol = strstr(buf, "\r\n");
    snprintf(s->request_lines[s->served], sizeof s->request_lines[0], "%.*s",
             (int)(eol - buf), buf);
    const char *resp = s->responses[s->served++];
    if (write(fd, resp, strlen(resp)) < 0)
      break;
  }
  if (fd >= 0)
    close(fd);
  return NULL;
}

static void canned_start(canned_server *s)
{
  s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s->listen_fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(s->listen_fd, 4), 0);
  assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&a, &alen), 0);
  s->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void canned_stop(canned_server *s)
{
  shutdown(s->listen_fd, SHUT_RDWR);
  pthread_join(s->thread, NULL);
  close(s->listen_fd);
}

static char *http_response(int status, const char *body)
{
  static char bufs[2][1024];
  static int next;
  char *b = bufs[next++ % 2];
  snprintf(b, sizeof bufs[0], "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
           "Content-Length: %zu\r\n\r\n%s", status, strlen(body), body);
  return b;
}

static imcast_client *client_for(const canned_server *s)
{
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", s->port);
  imcast_error err;
  imcast_client *c = imcast_client_new(url, APPID, NULL, test_key, &err);
  assert_non_null(c);
  return c;
}

/* The usersig= value of a request line, copied out. */
static void query_value(const char *line, const char *name, char *out, size_t cap)
{
  char key[32];
  snprintf(key, sizeof key, "%s=", name);
  const char *p = strstr(line, key);
  assert_non_null(p);
  p += strlen(key);
  size_t n = strcspn(p, "& ");
  snprintf(out, cap, "%.*s", (int)n, p);
}

static void tencent_error_through_the_client(void **state)
{
  canned_server s = {.nresponses = 1};
  s.responses[0] = http_response(200, "{\"ActionStatus\":\"FAIL\",\"ErrorInfo\":\"UserSig of "
                                      "someone else\",\"ErrorCode\":70013}");
  canned_start(&s);
  imcast_client *c = client_for(&s);
  const char *ids[] = {"u1"};
  imcast_user_tags_result res;
  imcast_error err;
  assert_int_equal(imcast_member_im_get_tag(c, ids, 1, &res, &err), IMCAST_E_TENCENT);
  assert_int_equal(err.status, IMCAST_E_TENCENT);
  assert_int_equal(err.error_code, 70013);
  assert_string_equal(err.error_info, "UserSig of someone else");
  assert_int_equal(err.curl_code, 0);
  assert_null(res.mem);
  size_t len;
  assert_non_null(strstr(imcast_client_last_answer(c, &len), "70013"));
  imcast_client_free(c);
  canned_stop(&s);

  /* The request line: path, sdkappid, identifier, a UserSig the server code accepts. */
  const char *line = s.request_lines[0];
  assert_non_null(strstr(line, "POST /v4/all_member_push/im_get_tag?"));
  assert_non_null(strstr(line, "sdkappid=1400000000"));
  assert_non_null(strstr(line, "identifier=administrator"));
  assert_non_null(strstr(line, "contenttype=json"));
  assert_non_null(strstr(line, "random="));
  char sig[IMCAST_USERSIG_MAX];
  query_value(line, "usersig", sig, sizeof sig);
  assert_int_equal(imcast_usersig_verify(test_key, sig, APPID, "administrator", NULL), 0);
}

static void protocol_error_through_the_client(void **state)
{
  canned_server s = {.nresponses = 1};
  s.responses[0] = http_response(502, "<html>bad gateway</html>");
  canned_start(&s);
  imcast_client *c = client_for(&s);
  imcast_attr_names_result res;
  imcast_error err;
  assert_int_equal(imcast_member_im_get_attr_name(c, &res, &err), IMCAST_E_PROTOCOL);
  assert_int_equal(err.http_status, 502);
  assert_int_equal(err.error_code, 0);
  imcast_client_free(c);
  canned_stop(&s);
}

static void expired_sig_is_renewed_once(void **state)
{
  canned_server s = {.nresponses = 2};
  s.responses[0] = http_response(200, "{\"ActionStatus\":\"FAIL\",\"ErrorInfo\":\"expired\","
                                      "\"ErrorCode\":70001}");
  s.responses[1] = http_response(200, "{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\","
                                      "\"ErrorCode\":0,\"TaskId\":\"abc\"}");
  canned_start(&s);
  imcast_client *c = client_for(&s);
  imcast_msg_elem hi = {.type = IMCAST_TEXT_ELEM, .text = {"hi"}};
  imcast_push_request req = {.msg_body = &hi, .msg_body_count = 1, .msg_random = 42};
  imcast_push_result res;
  imcast_error err;
  assert_int_equal(imcast_member_im_push(c, &req, &res, &err), IMCAST_OK);
  assert_string_equal(res.task_id, "abc");
  assert_int_equal(res.msg_random, 42);
  imcast_push_result_free(&res);
  imcast_client_free(c);
  canned_stop(&s);
  assert_int_equal(s.served, 2);
}

static void untyped_call_returns_the_answer(void **state)
{
  canned_server s = {.nresponses = 2};
  s.responses[0] = http_response(200, "{\"ActionStatus\":\"OK\",\"ErrorInfo\":\"\","
                                      "\"ErrorCode\":0,\"AttrNames\":{}}");
  s.responses[1] = http_response(200, "{\"ActionStatus\":\"FAIL\",\"ErrorInfo\":\"nope\","
                                      "\"ErrorCode\":60009}");
  canned_start(&s);
  imcast_client *c = client_for(&s);
  char *answer;
  imcast_error err;
  assert_int_equal(imcast_call(c, "all_member_push", "im_get_attr_name", NULL, &answer, &err),
                   IMCAST_OK);
  assert_non_null(strstr(answer, "AttrNames"));
  imcast_free(answer);
  assert_int_equal(imcast_call(c, "all_member_push", "im_nothing", "{}", &answer, &err),
                   IMCAST_E_TENCENT);
  assert_int_equal(err.error_code, 60009);
  assert_non_null(strstr(answer, "60009"));
  imcast_free(answer);
  assert_int_equal(imcast_call(c, "../etc", "x", NULL, &answer, &err), IMCAST_E_INVALID);
  assert_null(answer);
  imcast_client_free(c);
  canned_stop(&s);
  assert_non_null(strstr(s.request_lines[1], "/v4/all_member_push/im_nothing?"));
}

static void transport_error_is_not_a_tencent_error(void **state)
{
  canned_server s = {.nresponses = 0};
  canned_start(&s); /* a bound port ... */
  canned_stop(&s);  /* ... closed again: nobody listens there now */
  imcast_client *c = client_for(&s);
  imcast_error err;
  assert_int_equal(imcast_account_kick(c, "u1", &err), IMCAST_E_TRANSPORT);
  assert_int_equal(err.error_code, 0);
  assert_int_not_equal(err.curl_code, 0);
  assert_true(strlen(err.error_info) > 0);
  imcast_client_free(c);
}

static void client_refuses_bad_settings(void **state)
{
  imcast_error err;
  assert_null(imcast_client_new("ftp://host", APPID, NULL, test_key, &err));
  assert_int_equal(err.status, IMCAST_E_INVALID);
  assert_null(imcast_client_new("http://", APPID, NULL, test_key, &err));
  assert_null(imcast_client_new("http://h/?x=1", APPID, NULL, test_key, &err));
  assert_null(imcast_client_new("http://h", APPID, NULL, "", &err));
  assert_null(imcast_client_new("http://h", APPID, "", test_key, &err));
  assert_int_equal(err.status, IMCAST_E_INVALID);

  unsetenv("IMCAST_KEY");
  assert_null(imcast_client_new_from_env(&err));
  assert_non_null(strstr(err.error_info, "IMCAST_KEY"));
  setenv("IMCAST_KEY", test_key, 1);
  setenv("IMCAST_SDKAPPID", "14x", 1);
  assert_null(imcast_client_new_from_env(&err));
  assert_non_null(strstr(err.error_info, "IMCAST_SDKAPPID"));
  setenv("IMCAST_SDKAPPID", "1400000000", 1);
  imcast_client *c = imcast_client_new_from_env(&err);
  assert_non_null(c);
  imcast_client_free(c);
  unsetenv("IMCAST_SDKAPPID");
  unsetenv("IMCAST_KEY");

  imcast_push_result res;
  assert_int_equal(imcast_member_im_push(NULL, NULL, &res, &err), IMCAST_E_INVALID);
  assert_null(res.task_id);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(push_body_minimal),
    cmocka_unit_test(push_body_condition_and_offline),
    cmocka_unit_test(push_body_empty_condition_is_left_out),
    cmocka_unit_test(push_body_every_msg_type),
    cmocka_unit_test(push_body_refuses_bad_arguments),
    cmocka_unit_test(member_bodies),
    cmocka_unit_test(account_bodies),
    cmocka_unit_test(per_user_list_errors),
    cmocka_unit_test(envelope_separates_errors),
    cmocka_unit_test(push_answers),
    cmocka_unit_test(member_answers),
    cmocka_unit_test(account_answers),
    cmocka_unit_test(free_accepts_zeroed_results),
    cmocka_unit_test(usersig_round_trip),
    cmocka_unit_test(tencent_error_through_the_client),
    cmocka_unit_test(protocol_error_through_the_client),
    cmocka_unit_test(expired_sig_is_renewed_once),
    cmocka_unit_test(untyped_call_returns_the_answer),
    cmocka_unit_test(transport_error_is_not_a_tencent_error),
    cmocka_unit_test(client_refuses_bad_settings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
