//! STICKY_ROUTE's verdict: route to the agent, or why not.

use super::agent::Agent;
use super::queue::QueueVerdict;
use crate::host::vocabulary::DeviceState;
use crate::template::Template;

/// The values of `STICKY_STATUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteStatus {
    Routed,
    NoHistory,
    Busy,
    Unavailable,
    Invalid,
    Error,
    /// The caller hung up while waiting for the agent (`w(N)`).
    Hangup,
    /// The agent is paused in the contact's queue.
    Paused,
    /// The agent is in wrap-up after a call of the contact's queue.
    WrapUp,
    /// The agent is not a member of the contact's queue.
    NotMember,
}

impl RouteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteStatus::Routed => "ROUTED",
            RouteStatus::NoHistory => "NOHISTORY",
            RouteStatus::Busy => "BUSY",
            RouteStatus::Unavailable => "UNAVAILABLE",
            RouteStatus::Invalid => "INVALID",
            RouteStatus::Error => "ERROR",
            RouteStatus::Hangup => "HANGUP",
            RouteStatus::Paused => "PAUSED",
            RouteStatus::WrapUp => "WRAPUP",
            RouteStatus::NotMember => "NOTMEMBER",
        }
    }

    /// Whether a caller may wait (`w(N)`) for this to change.
    pub fn may_wait(self) -> bool {
        matches!(self, RouteStatus::Busy | RouteStatus::Paused | RouteStatus::WrapUp)
    }
}

/// Routed when the agent's state is one the config accepts; otherwise busy
/// for a device that is taken, unavailable for one that cannot ring.
pub fn classify(state: DeviceState, available: &[DeviceState]) -> RouteStatus {
    if available.contains(&state) {
        return RouteStatus::Routed;
    }
    match state {
        DeviceState::InUse
        | DeviceState::Busy
        | DeviceState::Ringing
        | DeviceState::RingInUse
        | DeviceState::OnHold
        | DeviceState::NotInUse => RouteStatus::Busy,
        DeviceState::Unavailable | DeviceState::Invalid | DeviceState::Unknown => RouteStatus::Unavailable,
    }
}

/// How an agent's availability is judged (from sticky.conf).
pub struct Availability<'a> {
    /// The device whose state is read, e.g. `PJSIP/${AGENT}`.
    pub state_template: &'a Template,
    /// The Dial() string answered when routed.
    pub dial_template: &'a Template,
    /// The states in which the agent takes the call.
    pub available: &'a [DeviceState],
}

/// What STICKY_ROUTE decided for an agent, and on what grounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The device whose state was read.
    pub device: String,
    pub state: DeviceState,
    pub status: RouteStatus,
    /// The Dial() string, when routed.
    pub dial: Option<String>,
}

/// The verdict once app_queue's view of the agent is added: not a member,
/// paused, or (with a free device) in wrap-up keeps the agent from being
/// rung; a device that is not free keeps its own status.
pub fn in_queue(mut verdict: Verdict, queue: &QueueVerdict) -> Verdict {
    let status = match queue {
        QueueVerdict::NoQueue | QueueVerdict::Member { .. } => return verdict,
        QueueVerdict::NotMember => RouteStatus::NotMember,
        QueueVerdict::Paused { .. } => RouteStatus::Paused,
        QueueVerdict::WrapUp { .. } if verdict.status == RouteStatus::Routed => RouteStatus::WrapUp,
        QueueVerdict::WrapUp { .. } => return verdict,
    };
    verdict.status = status;
    verdict.dial = None;
    verdict
}

/// Reads the agent's device state through `device_state` and decides.
pub fn verdict(agent: &Agent, rule: &Availability, device_state: impl FnOnce(&str) -> DeviceState) -> Verdict {
    let fill = |name: &str| agent.template_value(name);
    let device = rule.state_template.render(fill);
    let state = device_state(&device);
    let status = classify(state, rule.available);
    let dial = (status == RouteStatus::Routed).then(|| rule.dial_template.render(fill));
    Verdict { device, state, status, dial }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_to_statuses() {
        let available = [DeviceState::NotInUse];
        assert_eq!(classify(DeviceState::NotInUse, &available), RouteStatus::Routed);
        for state in
            [DeviceState::InUse, DeviceState::Busy, DeviceState::Ringing, DeviceState::RingInUse, DeviceState::OnHold]
        {
            assert_eq!(classify(state, &available), RouteStatus::Busy, "{state}");
        }
        for state in [DeviceState::Unavailable, DeviceState::Invalid, DeviceState::Unknown] {
            assert_eq!(classify(state, &available), RouteStatus::Unavailable, "{state}");
        }
        assert_eq!(classify(DeviceState::Ringing, &[DeviceState::NotInUse, DeviceState::Ringing]), RouteStatus::Routed);
        assert_eq!(classify(DeviceState::NotInUse, &[DeviceState::Ringing]), RouteStatus::Busy);
    }

    #[test]
    fn a_verdict_reads_the_templated_device_and_dials_when_free() {
        let variables = &["AGENT", "INTERFACE"];
        let state_template = Template::parse("Custom:agent${AGENT}", variables).unwrap();
        let dial_template = Template::parse("${INTERFACE}/n", variables).unwrap();
        let agent = Agent { id: "101".into(), interface: "Local/101@agents".into() };
        let rule = Availability {
            state_template: &state_template,
            dial_template: &dial_template,
            available: &[DeviceState::NotInUse],
        };
        let free = verdict(&agent, &rule, |device| {
            assert_eq!(device, "Custom:agent101");
            DeviceState::NotInUse
        });
        assert_eq!(free.status, RouteStatus::Routed);
        assert_eq!(free.dial.as_deref(), Some("Local/101@agents/n"));
        let busy = verdict(&agent, &rule, |_| DeviceState::InUse);
        assert_eq!((busy.status, busy.dial.clone()), (RouteStatus::Busy, None));
        let member = || "Local/101@agents/n".to_string();
        let paused = in_queue(free.clone(), &QueueVerdict::Paused { member: member() });
        assert_eq!((paused.status, paused.dial), (RouteStatus::Paused, None));
        assert_eq!(in_queue(free.clone(), &QueueVerdict::NotMember).status, RouteStatus::NotMember);
        assert_eq!(in_queue(free.clone(), &QueueVerdict::WrapUp { member: member() }).status, RouteStatus::WrapUp);
        assert_eq!(in_queue(busy.clone(), &QueueVerdict::WrapUp { member: member() }).status, RouteStatus::Busy);
        assert_eq!(in_queue(free.clone(), &QueueVerdict::Member { member: member() }), free);
        assert!(RouteStatus::Paused.may_wait() && !RouteStatus::NotMember.may_wait());
    }
}
