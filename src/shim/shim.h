/*
 * res_sticky C shim: what Rust cannot do through bindgen alone.
 *
 * Asterisk's registration calls are macros that pass AST_MODULE_SELF, its
 * logging macros add file/line, and AST_MODULE_INFO must be a static with an
 * ELF constructor. Each wrapper here is one line of real work; the logic and
 * the policy live in Rust.
 */
#ifndef RES_STICKY_SHIM_H
#define RES_STICKY_SHIM_H

#include <stddef.h>

struct ast_channel;
struct ast_cli_entry;
struct ast_cli_args;
struct ast_custom_function;

/* Implemented in Rust: the module entry points by declare_module! (src/asterisk/lifecycle.rs,
   expanded in src/module/mod.rs), the rest in src/asterisk/function.rs and cli.rs. */
int rs_sticky_load(void);
int rs_sticky_unload(void);
int rs_sticky_reload(void);
int rs_sticky_function_read(struct ast_channel *chan, const char *cmd, char *data, char *buf, size_t len);
char *rs_sticky_cli_dispatch(int index, struct ast_cli_entry *entry, int cmd, struct ast_cli_args *args);

/* Logging: the message is always passed as a "%s" argument, never a format. */
void rs_sticky_shim_log(int level, const char *file, int line, const char *function, const char *message);
void rs_sticky_shim_verbose(int level, const char *file, int line, const char *function, const char *message);
void rs_sticky_shim_cli_write(int fd, const char *text);

/* Pin the module so that only a graceful shutdown unloads it. */
void rs_sticky_shim_pin_module(void);

/* Custom dialplan functions: allocated and registered here; unregistered, never freed. */
struct ast_custom_function *rs_sticky_shim_function_register(const char *name);
void rs_sticky_shim_function_unregister(struct ast_custom_function *acf);

/* Dialplan applications. */
int rs_sticky_shim_application_register(const char *name, int (*execute)(struct ast_channel *chan, const char *data));

/* CLI entries: index is handed back to rs_sticky_cli_dispatch; unregistered, never freed. */
struct ast_cli_entry *rs_sticky_shim_cli_register(const char *summary, int index);
void rs_sticky_shim_cli_unregister(struct ast_cli_entry *entry);
void rs_sticky_shim_cli_set_command(struct ast_cli_entry *entry, const char *command, const char *usage);

/* Stasis subscriptions (stasis_subscribe is a macro) and the fields of
 * their messages, copied by Rust during the callback. */
struct stasis_subscription;
struct stasis_message;
typedef void (*rs_sticky_stasis_cb)(void *data, struct stasis_subscription *sub, struct stasis_message *message);
struct stasis_subscription *rs_sticky_shim_subscribe_devstate(rs_sticky_stasis_cb callback);
struct stasis_subscription *rs_sticky_shim_subscribe_varset(rs_sticky_stasis_cb callback);
int rs_sticky_shim_devstate_message(struct stasis_message *message, const char **device, int *state);
int rs_sticky_shim_varset_message(struct stasis_message *message, const char **variable, const char **value,
	const char **uniqueid, const char **linkedid);

/* AMI events: the body ("Key: value\r\n" lines) is passed as "%s". */
void rs_sticky_shim_manager_event(const char *event, const char *body);

/* AMI actions: registered in a slot (0-3) that rs_sticky_manager_dispatch
 * is called back with; headers read and replies sent through these. */
struct mansession;
struct message;
int rs_sticky_manager_dispatch(int slot, struct mansession *s, const struct message *m);
int rs_sticky_shim_manager_register(const char *name, int authority, int slot, const char *synopsis,
	const char *description);
int rs_sticky_shim_manager_unregister(const char *name);
const char *rs_sticky_shim_manager_header(const struct message *m, const char *name);
void rs_sticky_shim_manager_error(struct mansession *s, const struct message *m, const char *text);
void rs_sticky_shim_manager_ack(struct mansession *s, const struct message *m, const char *text);
void rs_sticky_shim_manager_append(struct mansession *s, const char *text);

/* A channel reference for waking a channel from another thread. */
struct ast_channel *rs_sticky_shim_channel_ref(struct ast_channel *chan);
int rs_sticky_shim_channel_wake(struct ast_channel *chan);

/* res_prometheus (a soft dependency, found at run time): whether it runs,
 * our scrape callback (re)registered with it, and text appended to a scrape.
 * rs_sticky_metrics_scrape is implemented in Rust (src/asterisk/prometheus.rs). */
struct ast_str;
void rs_sticky_metrics_scrape(struct ast_str **output);
int rs_sticky_shim_prometheus_running(void);
int rs_sticky_shim_prometheus_register(void);
int rs_sticky_shim_prometheus_unregister(void);
void rs_sticky_shim_str_append(struct ast_str **output, const char *text);
struct stasis_subscription *rs_sticky_shim_subscribe_modules(rs_sticky_stasis_cb callback);
int rs_sticky_shim_module_message(struct stasis_message *message, const char **type, const char **module,
	const char **status);

/* Channel locking (macros in channel.h). */
void rs_sticky_shim_channel_lock(struct ast_channel *chan);
void rs_sticky_shim_channel_unlock(struct ast_channel *chan);
void rs_sticky_shim_channel_unref(struct ast_channel *chan);

#endif
