/*
 * The Asterisk API surface res_sticky's bindings are generated from.
 * asterisk.h must come first: it pulls in the build options every other
 * header depends on (and the buildopt checksum the loader compares).
 */
#include "asterisk.h"

#include "asterisk/app.h"
#include "asterisk/astdb.h"
#include "asterisk/astobj2.h"
#include "asterisk/autoconfig.h"
#include "asterisk/buildopts.h"
#include "asterisk/causes.h"
#include "asterisk/cdr.h"
#include "asterisk/channel.h"
#include "asterisk/cli.h"
#include "asterisk/config.h"
#include "asterisk/devicestate.h"
#include "asterisk/file.h"
#include "asterisk/logger.h"
#include "asterisk/module.h"
#include "asterisk/paths.h"
#include "asterisk/pbx.h"
#include "asterisk/musiconhold.h"
#include "asterisk/say.h"
#include "asterisk/stasis.h"
#include "asterisk/utils.h"

#include "src/shim/shim.h"
