/*
** get_attr_names.c — 获取应用属性名称: the app's attribute names, slot by slot.
** Java SDK: client.member.imGetAttrName(new ImGetAttrNameRequest())
**   cc get_attr_names.c $(pkg-config --cflags --libs imcast) -o get_attr_names
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
  imcast_attr_names_result result;
  imcast_status st = imcast_member_im_get_attr_name(client, &result, &err);
  if (st == IMCAST_OK) {
    for (int slot = 0; slot < IMCAST_ATTR_SLOTS; slot++)
      if (result.names[slot] != NULL)
        printf("%d %s\n", slot, result.names[slot]);
  } else {
    fprintf(stderr, "%s %d: %s\n", imcast_status_name(st), err.error_code, err.error_info);
  }
  imcast_attr_names_result_free(&result);
  imcast_client_free(client);
  return st == IMCAST_OK ? 0 : 1;
}
