/*
** get_tags.c — 获取用户标签: the tags of test1 and test2 (at most 100 accounts).
** Java SDK: client.member.imGetTag(new ImGetTagRequest(toAccount))
**   cc get_tags.c $(pkg-config --cflags --libs imcast) -o get_tags
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
  imcast_user_tags_result result;
  imcast_status st =
      imcast_member_im_get_tag(client, accounts, IMCAST_COUNTOF(accounts), &result, &err);
  if (st == IMCAST_OK) {
    for (size_t i = 0; i < result.count; i++) {
      printf("%s", result.user_tags[i].to_account);
      for (size_t k = 0; k < result.user_tags[i].tag_count; k++)
        printf(" %s", result.user_tags[i].tags[k]);
      printf("\n");
    }
    for (size_t i = 0; i < result.error_count; i++)
      printf("%s: error %d\n", result.error_list[i].to_account, result.error_list[i].error_code);
  } else {
    fprintf(stderr, "%s %d: %s\n", imcast_status_name(st), err.error_code, err.error_info);
  }
  imcast_user_tags_result_free(&result);
  imcast_client_free(client);
  return st == IMCAST_OK ? 0 : 1;
}
