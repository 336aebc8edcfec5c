/*
** add_tags.c — 添加用户标签: tag test1 with "a" and "b" (at most 10 tags per user per call,
** 100 users per call, 100 tags per user in all).
** Java SDK: client.member.imAddTag(new ImAddTagRequest(userTags))
**   cc add_tags.c $(pkg-config --cflags --libs imcast) -o add_tags
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
  imcast_user_tags item = {"test1", tags, IMCAST_COUNTOF(tags)};
  imcast_batch_result result;
  imcast_status st = imcast_member_im_add_tag(client, &item, 1, &result, &err);
  if (st == IMCAST_OK) {
    printf("tags added\n");
    for (size_t i = 0; i < result.error_count; i++)
      printf("%s: error %d\n", result.error_list[i].to_account, result.error_list[i].error_code);
  } else {
    fprintf(stderr, "%s %d: %s\n", imcast_status_name(st), err.error_code, err.error_info);
  }
  imcast_batch_result_free(&result);
  imcast_client_free(client);
  return st == IMCAST_OK ? 0 : 1;
}
