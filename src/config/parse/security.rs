//! The security directives: `allow_anonymous`, `allow_zero_length_clientid`,
//! `password_file`, `acl_file`, `check_retain_source` and
//! `per_listener_settings`, which must come before the others. With
//! `per_listener_settings true` the first four apply to the listener being
//! configured, otherwise to the whole broker.

use super::{Line, Parser};
use crate::config::ConfigError;

/// Applies `line` if it is a security directive; `None` if it is not one.
pub(super) fn directive(
    parser: &mut Parser<'_>,
    line: &Line<'_>,
) -> Option<Result<(), ConfigError>> {
    let known = matches!(
        line.directive,
        "allow_anonymous"
            | "allow_zero_length_clientid"
            | "password_file"
            | "acl_file"
            | "check_retain_source"
            | "per_listener_settings"
    );
    known.then(|| apply(parser, line))
}

fn apply(parser: &mut Parser<'_>, line: &Line<'_>) -> Result<(), ConfigError> {
    match line.directive {
        "allow_anonymous" => {
            let value = line.bool()?;
            parser.security_set = true;
            if parser.config.per_listener_settings {
                parser.current_listener(line).allow_anonymous = Some(value);
            } else {
                parser.config.allow_anonymous = Some(value);
            }
        }
        "allow_zero_length_clientid" => {
            let value = line.bool()?;
            parser.security_set = true;
            if parser.config.per_listener_settings {
                parser.current_listener(line).allow_zero_length_clientid = Some(value);
            } else {
                parser.config.allow_zero_length_clientid = value;
            }
        }
        "password_file" | "acl_file" => {
            let path = Some(line.path()?);
            parser.security_set = true;
            let acl = line.directive == "acl_file";
            if parser.config.per_listener_settings {
                let l = parser.current_listener(line);
                *(if acl {
                    &mut l.acl_file
                } else {
                    &mut l.password_file
                }) = path;
            } else {
                let c = &mut parser.config;
                *(if acl {
                    &mut c.acl_file
                } else {
                    &mut c.password_file
                }) = path;
            }
        }
        "check_retain_source" => {
            parser.config.check_retain_source = line.bool()?;
            parser.security_set = true;
        }
        "per_listener_settings" => {
            let value = line.bool()?;
            if value && parser.security_set {
                return Err(line.error(
                    "must come before any security setting (allow_anonymous, \
                     allow_zero_length_clientid, check_retain_source, password_file, acl_file)",
                ));
            }
            parser.config.per_listener_settings = value;
        }
        _ => {}
    }
    Ok(())
}
