/*
 * web_page.h: the small page a web listener serves at GET / when
 * http.page is on: type a channel, see its messages arrive live over a
 * WebSocket and over Server-Sent Events, side by side. With ?channel=NAME
 * it subscribes at once.
 */
#ifndef PUBSUBD_WEB_PAGE_H
#define PUBSUBD_WEB_PAGE_H

#include <stddef.h>

/* The page's HTML (UTF-8), and its length. */
extern const char	web_page_html[];
extern const size_t	web_page_len;

#endif /* PUBSUBD_WEB_PAGE_H */
