/*
** get_attrs.c — 获取用户属性: the attributes of test1 and test2 (at most 100 accounts).
** Java SDK: client.member.imGetAttr(new ImGetAttrRequest(toAccount))
**   cc get_attrs.c $(pkg-config --cflags --libs imcast) -o get_attrs
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
  imcast_user_attrs_result result;
  imcast_status st =
      imcast_member_im_get_attr(client, accounts, IMCAST_COUNTOF(accounts), &result, &err);
  if (st == IMCAST_OK) {
    for (size_t i = 0; i < result.count; i++) {
      printf("%s", result.user_attrs[i].to_account);
      for (size_t k = 0; k < result.user_attrs[i].attr_count; k++)
        printf(" %s=%s", result.user_attrs[i].attrs[k].name, result.user_attrs[i].attrs[k].value);
      printf("\n");
    }
    for (size_t i = 0; i < result.error_count; i++)
      printf("%s: error %d\n", result.error_list[i].to_account, result.error_list[i].error_code);
  } else {
    fprintf(stderr, "%s %d: %s\n", imcast_status_name(st), err.error_code, err.error_info);
  }
  imcast_user_attrs_result_free(&result);
  imcast_client_free(client);
  return st == IMCAST_OK ? 0 : 1;
}
