/*
** set_attr_names.c — 设置应用属性名称: name attribute slots 0, 1 and 2.
** Java SDK: client.member.imSetAttrName(new ImSetAttrNameRequest(attrNames))
**   cc set_attr_names.c $(pkg-config --cflags --libs imcast) -o set_attr_names
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
  const char *names[IMCAST_ATTR_SLOTS] = {[0] = "sex", [1] = "city", [2] = "country"};
  imcast_status st = imcast_member_im_set_attr_name(client, names, &err);
  if (st == IMCAST_OK)
    printf("attribute names set\n");
  else
    fprintf(stderr, "%s %d: %s\n", imcast_status_name(st), err.error_code, err.error_info);
  imcast_client_free(client);
  return st == IMCAST_OK ? 0 : 1;
}
