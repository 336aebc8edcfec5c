/*
** push_by_attrs.c — 按用户属性推送: push to the accounts whose attributes match all of
** sex=female and city=shenzhen (AttrsAnd); AttrsOr would ask for one of them. The names
** must have been set first (set_attr_names). An OfflinePushInfo rides along.
**   cc push_by_attrs.c $(pkg-config --cflags --libs imcast) -o push_by_attrs
*/
#include <stdio.h>

#include <imcast/imcast.h>

int main(void)
{
  imcast_error err;
  imcast_client *client = imcast_client_new_from_env(&err);
  if (client == NULL) {
    fprintf(stderr, "%s\n", err.error_info);
    return 2;
  }
  imcast_attr attrs[] = {{"sex", "female"}, {"city", "shenzhen"}};
  imcast_condition condition = {.attrs_and = attrs, .attrs_and_count = IMCAST_COUNTOF(attrs)};
  imcast_msg_elem msg = {.type = IMCAST_TEXT_ELEM, .text = {.text = "hi, beauty"}};
  imcast_offline_push_info offline = {.title = "News", .desc = "hi, beauty"};
  imcast_push_request request = {
    .msg_body = &msg,
    .msg_body_count = 1,
    .msg_life_time = 120,
    .condition = &condition,
    .offline_push_info = &offline,
  };
  imcast_push_result result;
  imcast_status st = imcast_member_im_push(client, &request, &result, &err);
  if (st == IMCAST_OK)
    printf("TaskId %s\n", result.task_id);
  else
    fprintf(stderr, "%s %d: %s\n", imcast_status_name(st), err.error_code, err.error_info);
  imcast_push_result_free(&result);
  imcast_client_free(client);
  return st == IMCAST_OK ? 0 : 1;
}
