/*
** remove_all_tags.c — 删除所有用户标签: remove every tag of test1 and test2.
** Java SDK: client.member.imRemoveAllTags(new ImRemoveAllTagsRequest(toAccount))
**   cc remove_all_tags.c $(pkg-config --cflags --libs imcast) -o remove_all_tags
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
  const char *accounts[] = {"test1", "test2"};
  imcast_batch_result result;
  imcast_status st = imcast_member_im_remove_all_tags(client, accounts, IMCAST_COUNTOF(accounts),
                                                      &result, &err);
  if (st == IMCAST_OK) {
    printf("all tags removed\n");
    for (size_t i = 0; i < result.error_count; i++)
      printf("%s: error %d\n", result.error_list[i].to_account, result.error_list[i].error_code);
  } else {
    fprintf(stderr, "%s %d: %s\n", imcast_status_name(st), err.error_code, err.error_info);
  }
  imcast_batch_result_free(&result);
  imcast_client_free(client);
  return st == IMCAST_OK ? 0 : 1;
}
