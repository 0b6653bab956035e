//! LAST_AGENT() and STICKY_ROUTE(): the dialplan face of sticky routing.

use std::time::Instant;

use crate::asterisk::channel::Channel;
use crate::asterisk::devstate::device_state;
use crate::asterisk::function::{FunctionDef, ReadResult};
use crate::history::Lookup;
use crate::report::shown;
use crate::routing::contact::Contact;
use crate::routing::decision::{classify, RouteStatus};
use crate::routing::query::{parse_arguments, Arguments};
use crate::service::{self, Rules, Service};
use crate::{log_warning, verbose};

pub static FUNCTIONS: &[FunctionDef] =
    &[FunctionDef { name: c"LAST_AGENT", read: last_agent }, FunctionDef { name: c"STICKY_ROUTE", read: sticky_route }];

enum Found {
    /// The number cannot be used.
    Invalid,
    Contact(Option<Contact>),
    Failed,
}

/// Parses the arguments and asks the history, blocking (under autoservice)
/// only on a cache miss. `Err` for arguments the dialplan got wrong.
fn find(
    function: &str,
    service: &Service,
    rules: &Rules,
    channel: Option<&Channel>,
    data: &str,
) -> Result<(Arguments, Found), ()> {
    let arguments = parse_arguments(data, rules.config.general.window).map_err(|error| {
        log_warning!("{function}({}): {error}", shown(data));
    })?;
    let key = match rules.keys().key(&arguments.number) {
        Ok(key) => key,
        Err(reason) => {
            verbose!(3, "{function}: number '{}' unusable ({reason})", shown(&arguments.number));
            return Ok((arguments, Found::Invalid));
        }
    };
    let lookup = Lookup {
        key,
        window: arguments.window,
        filter: rules.filter(arguments.options.direction),
        first: arguments.options.first,
    };
    let started = Instant::now();
    let answer = match service.history.cached(&lookup) {
        Some(answer) => Ok(answer),
        None => match channel {
            Some(channel) => channel.with_autoservice(|| service.history.fetch(&lookup)),
            None => service.history.fetch(&lookup),
        },
    };
    service.history.record_latency(started.elapsed());
    let found = match answer {
        Ok(contact) => Found::Contact(contact),
        Err(error) => {
            verbose!(3, "{function}({}): {error}; answering without history", lookup.key);
            Found::Failed
        }
    };
    Ok((arguments, found))
}

fn last_agent(channel: Option<&Channel>, data: &str) -> ReadResult {
    let service = service::current().ok_or(())?;
    let rules = service.rules();
    let (arguments, found) = find("LAST_AGENT", &service, &rules, channel, data)?;
    Ok(match found {
        Found::Contact(Some(contact)) if arguments.options.interface => contact.agent.interface.to_string(),
        Found::Contact(Some(contact)) => contact.agent.id.to_string(),
        _ => String::new(),
    })
}

fn set_route_variables(channel: Option<&Channel>, status: RouteStatus, agent: &str, interface: &str) {
    if let Some(channel) = channel {
        channel.set_variable("STICKY_AGENT", agent);
        channel.set_variable("STICKY_INTERFACE", interface);
        channel.set_variable("STICKY_STATUS", status.as_str());
    }
}

fn sticky_route(channel: Option<&Channel>, data: &str) -> ReadResult {
    let service = service::current().ok_or(())?;
    let rules = service.rules();
    let (_, found) = find("STICKY_ROUTE", &service, &rules, channel, data).inspect_err(|_| {
        set_route_variables(channel, RouteStatus::Invalid, "", "");
    })?;
    let contact = match found {
        Found::Invalid => {
            set_route_variables(channel, RouteStatus::Invalid, "", "");
            return Ok(String::new());
        }
        Found::Failed => {
            set_route_variables(channel, RouteStatus::Error, "", "");
            return Ok(String::new());
        }
        Found::Contact(None) => {
            set_route_variables(channel, RouteStatus::NoHistory, "", "");
            return Ok(String::new());
        }
        Found::Contact(Some(contact)) => contact,
    };
    let general = &rules.config.general;
    let fill = |name: &str| contact.agent.template_value(name);
    let device = general.state_template.render(fill);
    let state = device_state(&device);
    let status = classify(state, &general.available_states);
    verbose!(
        3,
        "STICKY_ROUTE({}): agent {} on {device} is {state}: {}",
        contact.number,
        contact.agent.id,
        status.as_str()
    );
    set_route_variables(channel, status, &contact.agent.id, &contact.agent.interface);
    Ok(if status == RouteStatus::Routed { general.dial_template.render(fill) } else { String::new() })
}
