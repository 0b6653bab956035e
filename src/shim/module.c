/*
 * res_sticky C shim. See shim.h for why it exists; every function is a thin
 * wrapper around an Asterisk macro.
 *
 * Copyright (C) 2026 the res_sticky authors. GPL-2.0-only, like Asterisk.
 */
#include "asterisk.h"

#include "asterisk/cli.h"
#include "asterisk/logger.h"
#include "asterisk/module.h"
#include "asterisk/pbx.h"
#include "asterisk/channel.h"
#include "asterisk/utils.h"
#include "asterisk/stasis.h"
#include "asterisk/stasis_channels.h"
#include "asterisk/devicestate.h"
#include "asterisk/manager.h"
#include "asterisk/json.h"
#include "asterisk/frame.h"
#include "asterisk/module.h"
#include "asterisk/res_prometheus.h"

#include "shim.h"

#include <dlfcn.h>

void rs_sticky_shim_log(int level, const char *file, int line, const char *function, const char *message)
{
	ast_log(level, file, line, function, "%s", message);
}

void rs_sticky_shim_verbose(int level, const char *file, int line, const char *function, const char *message)
{
	if (VERBOSITY_ATLEAST(level)) {
		__ast_verbose(file, line, function, level, "%s", message);
	}
}

void rs_sticky_shim_cli_write(int fd, const char *text)
{
	ast_cli(fd, "%s", text);
}

void rs_sticky_shim_pin_module(void)
{
	Dl_info self;

	ast_module_shutdown_ref(AST_MODULE_SELF);
	/* A hard unload (module unload -h) closes the library even when unload
	 * refuses: keep the code mapped, since what it registered stays. */
	if (dladdr((void *) rs_sticky_shim_pin_module, &self) && self.dli_fname) {
		dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
	}
}



struct ast_custom_function *rs_sticky_shim_function_register(const char *name)
{
	struct ast_custom_function *acf = ast_calloc(1, sizeof(*acf));

	if (!acf) {
		return NULL;
	}
	acf->name = name;
	acf->read = rs_sticky_function_read;
	if (ast_custom_function_register(acf)) {
		/* The XML docs may already hang off the string fields. */
		if (acf->docsrc == AST_XML_DOC) {
			ast_string_field_free_memory(acf);
		}
		ast_free(acf);
		return NULL;
	}
	return acf;
}

void rs_sticky_shim_function_unregister(struct ast_custom_function *acf)
{
	/* Unregistering frees the XML doc string fields. The struct itself is
	 * never freed: a reader that found it just before (ast_func_read uses it
	 * after the list lock) may still be running, and unload happens only at
	 * process exit. */
	ast_custom_function_unregister(acf);
}

int rs_sticky_shim_application_register(const char *name, int (*execute)(struct ast_channel *chan, const char *data))
{
	return ast_register_application_xml(name, execute);
}

/* A CLI entry followed by the index Rust dispatches on. */
struct rs_sticky_cli_entry {
	struct ast_cli_entry entry;
	int index;
};

static char *cli_trampoline(struct ast_cli_entry *e, int cmd, struct ast_cli_args *a)
{
	struct rs_sticky_cli_entry *ours = (struct rs_sticky_cli_entry *) e;

	return rs_sticky_cli_dispatch(ours->index, e, cmd, a);
}

struct ast_cli_entry *rs_sticky_shim_cli_register(const char *summary, int index)
{
	struct rs_sticky_cli_entry *ours = ast_calloc(1, sizeof(*ours));
	struct ast_cli_entry template = AST_CLI_DEFINE(cli_trampoline, summary);

	if (!ours) {
		return NULL;
	}
	memcpy(&ours->entry, &template, sizeof(template));
	ours->index = index;
	if (ast_cli_register(&ours->entry)) {
		ast_free(ours);
		return NULL;
	}
	return &ours->entry;
}

void rs_sticky_shim_cli_unregister(struct ast_cli_entry *entry)
{
	/* Never freed: a command found just before may still be running (then
	 * Asterisk even leaves it linked), and unload happens only at process
	 * exit, which takes the memory anyway. */
	ast_cli_unregister(entry);
}

void rs_sticky_shim_cli_set_command(struct ast_cli_entry *entry, const char *command, const char *usage)
{
	/* Asterisk only reads these; the strings are Rust statics. */
	entry->command = (char *) command;
	entry->usage = usage;
}

void rs_sticky_shim_channel_lock(struct ast_channel *chan)
{
	ast_channel_lock(chan);
}

void rs_sticky_shim_channel_unlock(struct ast_channel *chan)
{
	ast_channel_unlock(chan);
}

void rs_sticky_shim_channel_unref(struct ast_channel *chan)
{
	ast_channel_unref(chan);
}

/* Stasis: a selective subscription to one message type of a topic (and the
 * subscription's own change messages, which unsubscribing waits for). */
static struct stasis_subscription *subscribe_to(struct stasis_topic *topic, struct stasis_message_type *type,
	void (*callback)(void *data, struct stasis_subscription *sub, struct stasis_message *message))
{
	struct stasis_subscription *sub = stasis_subscribe(topic, callback, NULL);

	if (!sub) {
		return NULL;
	}
	stasis_subscription_accept_message_type(sub, type);
	stasis_subscription_accept_message_type(sub, stasis_subscription_change_type());
	stasis_subscription_set_filter(sub, STASIS_SUBSCRIPTION_FILTER_SELECTIVE);
	return sub;
}

struct stasis_subscription *rs_sticky_shim_subscribe_devstate(
	void (*callback)(void *data, struct stasis_subscription *sub, struct stasis_message *message))
{
	return subscribe_to(ast_device_state_topic_all(), ast_device_state_message_type(), callback);
}

struct stasis_subscription *rs_sticky_shim_subscribe_varset(
	void (*callback)(void *data, struct stasis_subscription *sub, struct stasis_message *message))
{
	return subscribe_to(ast_channel_topic_all(), ast_channel_varset_type(), callback);
}

int rs_sticky_shim_devstate_message(struct stasis_message *message, const char **device, int *state)
{
	struct ast_device_state_message *payload;

	if (stasis_message_type(message) != ast_device_state_message_type()) {
		return -1;
	}
	payload = stasis_message_data(message);
	/* A NULL eid is the aggregate state; others are per server. */
	if (!payload || payload->eid) {
		return -1;
	}
	*device = payload->device;
	*state = payload->state;
	return 0;
}

int rs_sticky_shim_varset_message(struct stasis_message *message, const char **variable, const char **value,
	const char **uniqueid, const char **linkedid)
{
	struct ast_channel_blob *payload;

	if (stasis_message_type(message) != ast_channel_varset_type()) {
		return -1;
	}
	payload = stasis_message_data(message);
	/* A global variable has no channel. */
	if (!payload || !payload->snapshot || !payload->blob) {
		return -1;
	}
	*variable = ast_json_string_get(ast_json_object_get(payload->blob, "variable"));
	*value = ast_json_string_get(ast_json_object_get(payload->blob, "value"));
	*uniqueid = payload->snapshot->base->uniqueid;
	*linkedid = payload->snapshot->peer->linkedid;
	return (*variable && *value && *uniqueid && *linkedid) ? 0 : -1;
}

void rs_sticky_shim_manager_event(const char *event, const char *body)
{
	manager_event(EVENT_FLAG_CALL, event, "%s", body);
}

struct ast_channel *rs_sticky_shim_channel_ref(struct ast_channel *chan)
{
	return ast_channel_ref(chan);
}

int rs_sticky_shim_channel_wake(struct ast_channel *chan)
{
	return ast_queue_frame(chan, &ast_null_frame);
}

/* res_prometheus, found at run time: res_sticky must load where it is
 * absent, so nothing of it is linked. It is loaded with global symbols
 * (AST_MODFLAG_GLOBAL_SYMBOLS), which dlsym(RTLD_DEFAULT) finds while it is
 * loaded. One callback fills our families at scrape time. */
static void prometheus_scrape(struct ast_str **output)
{
	rs_sticky_metrics_scrape(output);
}

static struct prometheus_callback prometheus_callback = {
	.name = "res_sticky",
	.callback_fn = prometheus_scrape,
};

int rs_sticky_shim_prometheus_running(void)
{
	return ast_module_check("res_prometheus.so");
}

int rs_sticky_shim_prometheus_register(void)
{
	int (*reg)(struct prometheus_callback *) = (int (*)(struct prometheus_callback *)) dlsym(RTLD_DEFAULT,
		"prometheus_callback_register");

	return reg ? reg(&prometheus_callback) : -1;
}

int rs_sticky_shim_prometheus_unregister(void)
{
	void (*unreg)(struct prometheus_callback *) = (void (*)(struct prometheus_callback *)) dlsym(RTLD_DEFAULT,
		"prometheus_callback_unregister");

	if (!unreg) {
		return -1;
	}
	unreg(&prometheus_callback);
	return 0;
}

void rs_sticky_shim_str_append(struct ast_str **output, const char *text)
{
	ast_str_append(output, 0, "%s", text);
}

/* The loader's Load / Unload messages (manager events on the manager
 * topic): res_prometheus coming or going. */
struct stasis_subscription *rs_sticky_shim_subscribe_modules(
	void (*callback)(void *data, struct stasis_subscription *sub, struct stasis_message *message))
{
	return subscribe_to(ast_manager_get_topic(), ast_manager_get_generic_type(), callback);
}

int rs_sticky_shim_module_message(struct stasis_message *message, const char **type, const char **module,
	const char **status)
{
	struct ast_json_payload *payload;
	struct ast_json *event;

	if (stasis_message_type(message) != ast_manager_get_generic_type()) {
		return -1;
	}
	payload = stasis_message_data(message);
	if (!payload || !payload->json) {
		return -1;
	}
	event = ast_json_object_get(payload->json, "event");
	*type = ast_json_string_get(ast_json_object_get(payload->json, "type"));
	if (!*type) {
		return -1;
	}
	if (!strcmp(*type, "FullyBooted")) {
		/* Boot finished: no module named. */
		*module = "";
		*status = "";
		return 0;
	}
	*module = ast_json_string_get(ast_json_object_get(event, "Module"));
	*status = ast_json_string_get(ast_json_object_get(event, "Status"));
	if (!*module || !*status) {
		return -1;
	}
	/* Every generic manager event passes here: copy only the loader's. */
	return (!strcmp(*type, "Load") || !strcmp(*type, "Unload")) ? 0 : -1;
}

static int load_module(void)
{
	return rs_sticky_load();
}

static int unload_module(void)
{
	return rs_sticky_unload();
}

static int reload_module(void)
{
	return rs_sticky_reload();
}

AST_MODULE_INFO(ASTERISK_GPL_KEY, AST_MODFLAG_LOAD_ORDER, "Sticky call routing, notices and mobile agents",
	.support_level = AST_MODULE_SUPPORT_EXTENDED,
	.load = load_module,
	.unload = unload_module,
	.reload = reload_module,
	/* A device-state consumer, like app_queue: loads after the default
	 * modules, so a res_prometheus that loads at start is running by then. */
	.load_pri = AST_MODPRI_DEVSTATE_CONSUMER,
	.requires = "cdr",
);

/* AMI actions: one trampoline per slot, since a manager callback carries no
 * data of its own; Rust dispatches on the slot. */
#define RS_STICKY_ACTION_SLOT(n) \
	static int action_slot_##n(struct mansession *s, const struct message *m) \
	{ \
		return rs_sticky_manager_dispatch(n, s, m); \
	}
RS_STICKY_ACTION_SLOT(0)
RS_STICKY_ACTION_SLOT(1)
RS_STICKY_ACTION_SLOT(2)
RS_STICKY_ACTION_SLOT(3)
RS_STICKY_ACTION_SLOT(4)
RS_STICKY_ACTION_SLOT(5)
RS_STICKY_ACTION_SLOT(6)
RS_STICKY_ACTION_SLOT(7)

static int (*const action_slots[])(struct mansession *, const struct message *) = {
	action_slot_0, action_slot_1, action_slot_2, action_slot_3,
	action_slot_4, action_slot_5, action_slot_6, action_slot_7,
};

int rs_sticky_shim_manager_register(const char *name, int authority, int slot, const char *synopsis,
	const char *description)
{
	if (slot < 0 || slot >= (int) ARRAY_LEN(action_slots)) {
		return -1;
	}
	return ast_manager_register2(name, authority, action_slots[slot], AST_MODULE_SELF, synopsis, description);
}

int rs_sticky_shim_manager_unregister(const char *name)
{
	return ast_manager_unregister(name);
}

const char *rs_sticky_shim_manager_header(const struct message *m, const char *name)
{
	return astman_get_header(m, (char *) name);
}

void rs_sticky_shim_manager_error(struct mansession *s, const struct message *m, const char *text)
{
	astman_send_error(s, m, (char *) text);
}

void rs_sticky_shim_manager_ack(struct mansession *s, const struct message *m, const char *text)
{
	astman_send_ack(s, m, (char *) text);
}

void rs_sticky_shim_manager_append(struct mansession *s, const char *text)
{
	astman_append(s, "%s", text);
}
