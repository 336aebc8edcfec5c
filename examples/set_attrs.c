/*
** set_attrs.c — 设置用户属性: give test1 sex=attr1 and city=attr2 (names set beforehand).
** Java SDK: client.member.imSetAttr(new ImSetAttrRequest(userAttrs))
**   cc set_attrs.c $(pkg-config --cflags --libs imcast) -o set_attrs
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
  imcast_attr attrs[] = {{"sex", "attr1"}, {"city", "attr2"}};
  imcast_user_attrs item = {"test1", attrs, IMCAST_COUNTOF(attrs)};
  imcast_batch_result result;
  imcast_status st = imcast_member_im_set_attr(client, &item, 1, &result, &err);
  if (st == IMCAST_OK) {
    printf("attributes set\n");
    for (size_t i = 0; i < result.error_count; i++)
      printf("%s: error %d\n", result.error_list[i].to_account, result.error_list[i].error_code);
  } else {
    fprintf(stderr, "%s %d: %s\n", imcast_status_name(st), err.error_code, err.error_info);
  }
  imcast_batch_result_free(&result);
  imcast_client_free(client);
  return st == IMCAST_OK ? 0 : 1;
}
