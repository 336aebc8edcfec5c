/*
** push_from_account.c — 全员推送 as a designated account: receivers see the message as
** coming from "admin" (an account the admin imports first), not from the admin identifier.
** Java SDK: ImPushRequest.builder()...fromAccount("admin")...
**   cc push_from_account.c $(pkg-config --cflags --libs imcast) -o push_from_account
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
  imcast_account sender = {.user_id = "admin"};
  imcast_status st = imcast_account_import(client, &sender, &err);
  imcast_msg_elem msg = {.type = IMCAST_TEXT_ELEM, .text = {.text = "hi, beauty"}};
  imcast_push_request request = {
    .msg_body = &msg,
    .msg_body_count = 1,
    .msg_life_time = 120,
    .from_account = "admin",
  };
  imcast_push_result result = {0};
  if (st == IMCAST_OK)
    st = imcast_member_im_push(client, &request, &result, &err);
  if (st == IMCAST_OK)
    printf("TaskId %s\n", result.task_id);
  else
    fprintf(stderr, "%s %d: %s\n", imcast_status_name(st), err.error_code, err.error_info);
  imcast_push_result_free(&result);
  imcast_client_free(client);
  return st == IMCAST_OK ? 0 : 1;
}
