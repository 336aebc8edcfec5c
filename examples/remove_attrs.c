/*
** remove_attrs.c — 删除用户属性: remove test1's sex and city attributes.
** Java SDK: client.member.imRemoveAttr(new ImRemoveAttrRequest(userAttrs))
**   cc remove_attrs.c $(pkg-config --cflags --libs imcast) -o remove_attrs
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
  const char *names[] = {"sex", "city"};
  imcast_user_attr_names item = {"test1", names, IMCAST_COUNTOF(names)};
  imcast_batch_result result;
  imcast_status st = imcast_member_im_remove_attr(client, &item, 1, &result, &err);
  if (st == IMCAST_OK) {
    printf("attributes removed\n");
    for (size_t i = 0; i < result.error_count; i++)
      printf("%s: error %d\n", result.error_list[i].to_account, result.error_list[i].error_code);
  } else {
    fprintf(stderr, "%s %d: %s\n", imcast_status_name(st), err.error_code, err.error_info);
  }
  imcast_batch_result_free(&result);
  imcast_client_free(client);
  return st == IMCAST_OK ? 0 : 1;
}
