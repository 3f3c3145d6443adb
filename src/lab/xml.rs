//! Just enough XML for the AWS wire: a small element tree for request bodies (Route 53 sends
//! REST-XML) and an escaping writer for responses. Namespaces are ignored on input, as AWS does
//! for the elements it knows.

use std::fmt::Write as _;

use quick_xml::escape::escape;
use quick_xml::events::Event;

/// One parsed element: its local name, its own text (concatenated) and its child elements.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// Parses a whole document and returns its root element.
    pub fn parse(body: &[u8]) -> Result<Element, String> {
        let text = std::str::from_utf8(body).map_err(|e| format!("body is not UTF-8: {e}"))?;
        let mut reader = quick_xml::Reader::from_str(text);
        let mut stack: Vec<Element> = Vec::new();
        loop {
            let event = reader
                .read_event()
                .map_err(|e| format!("malformed XML at byte {}: {e}", reader.buffer_position()))?;
            match event {
                Event::Start(start) => stack.push(Element {
                    name: start.local_name().as_ref().to_string(),
                    ..Element::default()
                }),
                Event::Empty(start) => {
                    let element = Element {
                        name: start.local_name().as_ref().to_string(),
                        ..Element::default()
                    };
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(element),
                        None => return Ok(element),
                    }
                }
                Event::End(_) => {
                    let done = stack.pop().ok_or("unbalanced end tag")?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => return Ok(done),
                    }
                }
                Event::Text(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t.xml10_content());
                    }
                }
                Event::CData(c) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&c);
                    }
                }
                Event::GeneralRef(r) => {
                    let resolved = if r.is_char_ref() {
                        r.resolve_char_ref()
                            .map_err(|e| format!("bad character reference: {e}"))?
                            .map(String::from)
                    } else {
                        predefined(&r.xml10_content()).map(String::from)
                    };
                    let resolved = resolved.ok_or("unknown entity reference")?;
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&resolved);
                    }
                }
                Event::Eof => return Err("document has no complete root element".into()),
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the named child, if the child exists.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
}

fn predefined(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => return None,
    })
}

/// Writes XML text. Element names are trusted literals; text is always escaped.
#[derive(Debug, Default)]
pub struct XmlWriter {
    out: String,
    open: Vec<&'static str>,
}

impl XmlWriter {
    /// A document whose root element carries the service's namespace.
    pub fn document(root: &'static str, namespace: &str) -> Self {
        let mut w = XmlWriter {
            out: String::from("<?xml version=\"1.0\"?>\n"),
            open: Vec::new(),
        };
        let _ = write!(w.out, "<{root} xmlns=\"{}\">", escape(namespace));
        w.open.push(root);
        w
    }

    pub fn open(&mut self, name: &'static str) -> &mut Self {
        let _ = write!(self.out, "<{name}>");
        self.open.push(name);
        self
    }

    pub fn close(&mut self) -> &mut Self {
        if let Some(name) = self.open.pop() {
            let _ = write!(self.out, "</{name}>");
        }
        self
    }

    pub fn leaf(&mut self, name: &'static str, text: impl AsRef<str>) -> &mut Self {
        let _ = write!(self.out, "<{name}>{}</{name}>", escape(text.as_ref()));
        self
    }

    pub fn leaf_opt(&mut self, name: &'static str, text: Option<impl AsRef<str>>) -> &mut Self {
        if let Some(text) = text {
            self.leaf(name, text);
        }
        self
    }

    /// Closes every open element and returns the document.
    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_elements_entities_and_namespaces() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<R xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><A>x &amp; y&#33;</A><B><C>1</C><C>2</C></B><E/></R>"#;
        let root = Element::parse(doc).unwrap();
        assert_eq!(root.name, "R");
        assert_eq!(root.text_of("A"), Some("x & y!"));
        let cs: Vec<_> = root
            .child("B")
            .unwrap()
            .children_named("C")
            .map(|c| c.text.as_str())
            .collect();
        assert_eq!(cs, ["1", "2"]);
        assert_eq!(root.text_of("E"), Some(""));
        assert_eq!(root.text_of("Missing"), None);
    }

    #[test]
    fn rejects_truncated_documents() {
        assert!(Element::parse(b"<R><A>1</A>").is_err());
        assert!(Element::parse(b"").is_err());
        assert!(Element::parse(b"<R></Q>").is_err());
    }

    #[test]
    fn writer_escapes_text_and_closes_everything() {
        let mut w = XmlWriter::document("Root", "urn:x");
        w.open("A").leaf("B", "<&>").leaf_opt("C", None::<&str>);
        assert_eq!(
            w.finish(),
            "<?xml version=\"1.0\"?>\n<Root xmlns=\"urn:x\"><A><B>&lt;&amp;&gt;</B></A></Root>"
        );
    }
}
