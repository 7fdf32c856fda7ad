//! `http-check expect rstatus <regex>` as the list of status codes it
//! accepts: the regex is tried against every code from 100 to 599, as
//! HAProxy would try it against the status (a search, unanchored unless
//! the pattern says `^`/`$`).
//!
//! A small backtracking matcher for the regexes people write for status
//! codes: literals, `.`, `\d`, classes (`[0-9]`, `[^5]`), groups with `|`,
//! `^`, `$`, and the quantifiers `? * + {n} {n,} {n,m}`. Anything else
//! (back-references, look-arounds) is refused and the caller warns. The
//! input is at most 3 characters long, so backtracking costs nothing.

const MAX_PATTERN: usize = 200;

#[derive(Clone, Debug)]
enum Node {
    Char(char),
    Any,
    Class(Vec<(char, char)>, bool),
    Group(Vec<Vec<Item>>),
    Start,
    End,
}

#[derive(Clone, Debug)]
struct Item {
    node: Node,
    min: usize,
    max: usize,
}

/// The codes in 100..=599 the regex accepts, or None when the regex uses
/// syntax this matcher does not know.
pub(super) fn codes(pattern: &str) -> Option<Vec<u16>> {
    if pattern.len() > MAX_PATTERN {
        return None;
    }
    let mut p = Parser {
        c: pattern.chars().collect(),
        i: 0,
    };
    let alts = p.alternatives()?;
    if p.i != p.c.len() {
        return None;
    }
    let items = vec![Item {
        node: Node::Group(alts),
        min: 1,
        max: 1,
    }];
    Some(
        (100u16..=599)
            .filter(|code| {
                let s: Vec<char> = code.to_string().chars().collect();
                (0..=s.len()).any(|start| match_items(&items, &s, start, &mut |_| true))
            })
            .collect(),
    )
}

struct Parser {
    c: Vec<char>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn alternatives(&mut self) -> Option<Vec<Vec<Item>>> {
        let mut alts = vec![self.sequence()?];
        while self.peek() == Some('|') {
            self.i += 1;
            alts.push(self.sequence()?);
        }
        Some(alts)
    }

    fn sequence(&mut self) -> Option<Vec<Item>> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let node = self.atom()?;
            let (min, max) = self.quantifier()?;
            items.push(Item { node, min, max });
        }
        Some(items)
    }

    fn atom(&mut self) -> Option<Node> {
        Some(match self.next()? {
            '(' => {
                if self.c.get(self.i..self.i + 2) == Some(&['?', ':']) {
                    self.i += 2;
                }
                let alts = self.alternatives()?;
                if self.next()? != ')' {
                    return None;
                }
                Node::Group(alts)
            }
            '[' => self.class()?,
            '.' => Node::Any,
            '^' => Node::Start,
            '$' => Node::End,
            '\\' => match self.next()? {
                'd' => Node::Class(vec![('0', '9')], false),
                'D' => Node::Class(vec![('0', '9')], true),
                c if c.is_ascii_alphanumeric() => return None,
                c => Node::Char(c),
            },
            '*' | '+' | '?' | '{' | ')' => return None,
            c => Node::Char(c),
        })
    }

    fn class(&mut self) -> Option<Node> {
        let negated = self.peek() == Some('^');
        if negated {
            self.i += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = self.next()?;
            if c == ']' && !first {
                break;
            }
            first = false;
            let lo = match c {
                '\\' => match self.next()? {
                    'd' => {
                        ranges.push(('0', '9'));
                        continue;
                    }
                    e => e,
                },
                c => c,
            };
            if self.peek() == Some('-') && self.c.get(self.i + 1).is_some_and(|&n| n != ']') {
                self.i += 1;
                let hi = self.next()?;
                if hi < lo {
                    return None;
                }
                ranges.push((lo, hi));
            } else {
                ranges.push((lo, lo));
            }
        }
        Some(Node::Class(ranges, negated))
    }

    fn quantifier(&mut self) -> Option<(usize, usize)> {
        let q = match self.peek() {
            Some('?') => (0, 1),
            Some('*') => (0, usize::MAX),
            Some('+') => (1, usize::MAX),
            Some('{') => {
                let close = self.c[self.i..].iter().position(|&c| c == '}')? + self.i;
                let body: String = self.c[self.i + 1..close].iter().collect();
                self.i = close;
                let (lo, hi) = match body.split_once(',') {
                    None => {
                        let n = body.parse().ok()?;
                        (n, n)
                    }
                    Some((lo, "")) => (lo.parse().ok()?, usize::MAX),
                    Some((lo, hi)) => (lo.parse().ok()?, hi.parse().ok()?),
                };
                // A status code has 3 characters: a larger minimum matches
                // nothing anyway, and would only deepen the recursion.
                if hi < lo || lo > 8 {
                    return None;
                }
                (lo, hi)
            }
            _ => return Some((1, 1)),
        };
        self.i += 1;
        // A lazy quantifier matches the same set of strings.
        if self.peek() == Some('?') {
            self.i += 1;
        }
        Some(q)
    }
}

fn match_items(items: &[Item], s: &[char], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    match items.split_first() {
        None => k(pos),
        Some((first, rest)) => match_repeat(first, 0, rest, s, pos, k),
    }
}

/// Greedy: one more repetition of `item` if allowed (each must consume a
/// character, so that `(a?)*` ends), else the rest of the sequence.
fn match_repeat(
    item: &Item,
    count: usize,
    rest: &[Item],
    s: &[char],
    pos: usize,
    k: &mut dyn FnMut(usize) -> bool,
) -> bool {
    if count < item.max
        && match_node(&item.node, s, pos, &mut |p| {
            (p != pos || count < item.min) && match_repeat(item, count + 1, rest, s, p, k)
        })
    {
        return true;
    }
    count >= item.min && match_items(rest, s, pos, k)
}

fn match_node(node: &Node, s: &[char], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    match node {
        Node::Char(c) => s.get(pos) == Some(c) && k(pos + 1),
        Node::Any => pos < s.len() && k(pos + 1),
        Node::Class(ranges, negated) => {
            s.get(pos)
                .is_some_and(|c| ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated)
                && k(pos + 1)
        }
        Node::Start => pos == 0 && k(pos),
        Node::End => pos == s.len() && k(pos),
        Node::Group(alts) => alts.iter().any(|alt| match_items(alt, s, pos, k)),
    }
}
