/*
** push_by_tags.c — 按用户标签推送: push to the accounts tagged "a" or "b" (TagsOr); TagsAnd
** would ask for every tag. Java SDK: ImPushRequest.builder()...condition(condition)...
**   cc push_by_tags.c $(pkg-config --cflags --libs imcast) -o push_by_tags
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
  const char *tags[] = {"a", "b"};
  imcast_condition condition = {.tags_or = tags, .tags_or_count = IMCAST_COUNTOF(tags)};
  imcast_msg_elem msg = {.type = IMCAST_TEXT_ELEM, .text = {.text = "hi, beauty"}};
  imcast_push_request request = {
    .msg_body = &msg,
    .msg_body_count = 1,
    .msg_life_time = 120,
    .condition = &condition,
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
