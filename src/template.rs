//! Templates such as `PJSIP/${AGENT}` or `Local/${NUMBER}@from-internal/n`.
//!
//! Only the variables a template's key documents are allowed, and every value
//! substituted into one has been validated by the caller (an agent id taken
//! from a channel name, a number reduced to digits), so a rendered template can
//! be handed to Dial() or written into a call file.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Variable(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`, allowing only the variables in `allowed`.
    pub fn parse(text: &str, allowed: &[&'static str]) -> Result<Template, String> {
        let source = text.trim().to_string();
        if source.is_empty() {
            return Err("the template is empty".into());
        }
        if let Some(bad) = source.chars().find(|c| c.is_control()) {
            return Err(format!("the template contains the control character {:?}", bad));
        }
        let mut pieces = Vec::new();
        let mut rest = source.as_str();
        while let Some(start) = rest.find("${") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| format!("unclosed '${{' in '{source}'"))?;
            let name = &after[..end];
            let variable = allowed
                .iter()
                .find(|allowed| **allowed == name)
                .ok_or_else(|| format!("unknown variable '${{{name}}}' (this key allows {})", describe(allowed)))?;
            pieces.push(Piece::Variable(variable));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template { source, pieces })
    }

    /// Substitutes each variable with `value(name)`.
    pub fn render(&self, value: impl Fn(&str) -> String) -> String {
        let mut out = String::with_capacity(self.source.len() + 16);
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Variable(name) => out.push_str(&value(name)),
            }
        }
        out
    }

    pub fn uses(&self, name: &str) -> bool {
        self.pieces.iter().any(|piece| matches!(piece, Piece::Variable(v) if *v == name))
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

fn describe(allowed: &[&str]) -> String {
    allowed.iter().map(|name| format!("${{{name}}}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGENT_VARS: &[&str] = &["AGENT", "INTERFACE"];

    #[test]
    fn renders_variables() {
        let template = Template::parse("Local/${AGENT}@from-internal/n", AGENT_VARS).unwrap();
        assert_eq!(
            template.render(|name| if name == "AGENT" { "101".into() } else { "?".into() }),
            "Local/101@from-internal/n"
        );
        assert!(template.uses("AGENT"));
        assert!(!template.uses("INTERFACE"));
        let plain = Template::parse("${INTERFACE}", AGENT_VARS).unwrap();
        assert_eq!(plain.render(|_| "PJSIP/101".into()), "PJSIP/101");
    }

    #[test]
    fn rejects_unknown_and_broken() {
        assert!(Template::parse("PJSIP/${NUMBER}", AGENT_VARS).unwrap_err().contains("${NUMBER}"));
        assert!(Template::parse("PJSIP/${AGENT", AGENT_VARS).is_err());
        assert!(Template::parse("", AGENT_VARS).is_err());
        assert!(Template::parse("PJSIP/${AGENT}\nApplication: System", AGENT_VARS).is_err());
        assert!(Template::parse("${agent}", AGENT_VARS).is_err());
    }

    #[test]
    fn text_without_variables_is_kept() {
        let template = Template::parse("PJSIP/operator", AGENT_VARS).unwrap();
        assert_eq!(template.render(|_| unreachable!()), "PJSIP/operator");
    }
}
