//! pb's errors as Twisted failures and back (`PROTOCOL.txt` section 5).
//!
//! Going out, each [`Error`] becomes the failure a Python caller can
//! `check()` for (its kind below), carrying the error itself as `pb_error`
//! so that a pb caller gets it back exactly. Coming in, `pb_error` wins;
//! failures from Python map by type, and any other becomes
//! [`Error::Remote`] with the Python type and text.
//!
//! | pb | Twisted failure |
//! | --- | --- |
//! | `UnknownObject` | `twisted.spread.pb.Error("Invalid Object ID")` |
//! | `UnknownMethod` | `twisted.spread.flavors.NoSuchMethod("No such method: remote_<name>")` |
//! | `Unauthorized` | `twisted.cred.error.UnauthorizedLogin` |
//! | `Disconnected` | `twisted.spread.pb.DeadReferenceError` |
//! | `ConnectionLost` | `twisted.spread.pb.PBConnectionLost` |
//! | `Remote { kind, message }` | `kind(message)` (a Python failure relayed) |
//! | any other | `twisted.spread.pb.Error(<Display>)` |

use super::super::jelly;
use super::failure::Failure;
use crate::Error;

pub(crate) const PB_ERROR: &str = "twisted.spread.pb.Error";
const NO_SUCH_METHOD: &str = "twisted.spread.flavors.NoSuchMethod";
const UNAUTHORIZED: &str = "twisted.cred.error.UnauthorizedLogin";
const DEAD_REFERENCE: &str = "twisted.spread.pb.DeadReferenceError";
const CONNECTION_LOST: &str = "twisted.spread.pb.PBConnectionLost";

impl Failure {
    /// The failure that reports `error` to a Twisted (or pb) caller.
    pub fn from_error(error: &Error) -> Failure {
        let mut failure = match error {
            Error::UnknownObject { .. } => Failure::new(PB_ERROR, "Invalid Object ID", &[]),
            Error::UnknownMethod { name, method, .. } => {
                let name = name.clone().unwrap_or_else(|| format!("{method:#x}"));
                Failure::new(NO_SUCH_METHOD, &format!("No such method: remote_{name}"), &["builtins.AttributeError"])
            }
            Error::Unauthorized => Failure::new(
                UNAUTHORIZED,
                &error.to_string(),
                &["twisted.cred.error.LoginFailed", "twisted.cred.error.Unauthorized"],
            ),
            Error::Disconnected => {
                Failure::new(DEAD_REFERENCE, &error.to_string(), &["twisted.spread.pb.ProtocolError"])
            }
            Error::ConnectionLost => Failure::new(CONNECTION_LOST, &error.to_string(), &[]),
            Error::Remote { kind, message } => Failure::new(kind, message, &[]),
            other => Failure::new(PB_ERROR, &other.to_string(), &[]),
        };
        failure.pb_error = jelly::to_value(error).ok();
        failure
    }

    /// The pb error this failure reports.
    pub fn to_error(&self) -> Error {
        if let Some(e) = self.pb_error.as_ref().and_then(|v| jelly::from_value::<Error>(v).ok()) {
            return e;
        }
        if self.check(UNAUTHORIZED) {
            Error::Unauthorized
        } else if self.check(DEAD_REFERENCE) {
            Error::Disconnected
        } else if self.check(CONNECTION_LOST) {
            Error::ConnectionLost
        } else if let Some(name) =
            self.value.strip_prefix("No such method: remote_").filter(|_| self.check(NO_SUCH_METHOD))
        {
            Error::UnknownMethod { interface: String::new(), method: 0, name: Some(name.to_string()) }
        } else {
            Error::Remote { kind: self.kind.clone(), message: self.value.clone() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pb_errors_come_back_exactly() {
        let errors = [
            Error::UnknownObject { id: 3 },
            Error::UnknownMethod { interface: "aurora.Users".into(), method: 7, name: Some("get".into()) },
            Error::Unauthorized,
            Error::Disconnected,
            Error::ConnectionLost,
            Error::LimitExceeded { what: "x".into(), limit: 2 },
            Error::Busy,
            Error::Remote { kind: "builtins.ValueError".into(), message: "boom".into() },
        ];
        for e in errors {
            let f = Failure::from_error(&e);
            let back = Failure::from_value(&f.to_value()).unwrap();
            assert_eq!(back.to_error(), e);
            let mut python = back.clone();
            python.pb_error = None;
            let plain = python.to_error();
            match e {
                Error::Unauthorized | Error::Disconnected | Error::ConnectionLost => assert_eq!(plain, e),
                Error::UnknownMethod { .. } => {
                    assert!(matches!(plain, Error::UnknownMethod { name: Some(n), .. } if n == "get"));
                }
                Error::Remote { .. } => assert_eq!(plain, e),
                _ => assert!(matches!(&plain, Error::Remote { kind, .. } if kind == PB_ERROR), "{plain:?}"),
            }
        }
        let f = Failure::from_error(&Error::UnknownMethod { interface: "I".into(), method: 7, name: Some("x".into()) });
        assert!(f.check("builtins.AttributeError") && f.value == "No such method: remote_x");
        assert!(Failure::from_error(&Error::Unauthorized).check("twisted.cred.error.Unauthorized"));
    }
}
