/*
** push_all.c — 全员推送: push a text message to every account, as the admin.
** Java SDK: client.member.imPush(ImPushRequest.builder().msgRandom(..).msgBody(..)
**           .msgLifeTime(120).build())
** Settings from IMCAST_URL, IMCAST_SDKAPPID, IMCAST_ADMIN, IMCAST_KEY.
**   cc push_all.c $(pkg-config --cflags --libs imcast) -o push_all
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
  imcast_msg_elem msg = {.type = IMCAST_TEXT_ELEM, .text = {.text = "hi, beauty"}};
  imcast_push_request request = {
    .msg_random = 0,          /* 0: drawn at random; reuse one to retry a push safely */
    .msg_body = &msg,
    .msg_body_count = 1,
    .msg_life_time = 120,     /* kept 120 s for offline accounts */
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
