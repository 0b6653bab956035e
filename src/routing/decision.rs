//! STICKY_ROUTE's verdict: route to the agent, or why not.
#![forbid(unsafe_code)]

use super::vocabulary::DeviceState;

/// The values of `STICKY_STATUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteStatus {
    Routed,
    NoHistory,
    Busy,
    Unavailable,
    Invalid,
    Error,
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
        }
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
}
