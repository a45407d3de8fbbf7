// dhclient.conf(5): the statements that decide which nameservers a DHCP lease writes into
// resolv.conf — `supersede`, `prepend`, `append` and `default` of `domain-name-servers` (and of
// `domain-search`/`domain-name`). Kubespray writes `supersede domain-name-servers <nodelocaldns_ip>,
// <host servers>;` between "# Ansible entries BEGIN/END" markers; when the host servers it read
// included 127.0.0.53, the next lease puts a loop into the kubelet's resolv.conf. Statements end
// at `;` and may span lines; `#` starts a comment to the end of the line (outside quotes);
// `interface "eth0" { … }` blocks scope statements to one interface. Pure; never throws.

export type DhclientAction = 'supersede' | 'prepend' | 'append' | 'default';

export interface DhclientStatement {
  action: DhclientAction;
  /** domain-name-servers, domain-search or domain-name */
  option: string;
  /** the values, unquoted, in order */
  values: string[];
  /** the interface block the statement sits in, or null at top level */
  interface: string | null;
  /** 1-based line where the statement starts */
  line: number;
  /** the statement as written (comments removed, whitespace collapsed) */
  text: string;
}

export interface DhclientConf {
  statements: DhclientStatement[];
  /** a statement not closed by `;` or a block not closed by `}` before the end of the file */
  unterminated: boolean;
}

const ACTIONS = new Set<string>(['supersede', 'prepend', 'append', 'default']);
const OPTIONS = new Set<string>(['domain-name-servers', 'domain-search', 'domain-name']);

interface Token {
  v: string;
  line: number;
  quoted: boolean;
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) i++;
    else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '"') {
      let j = i + 1;
      let v = '';
      const start = line;
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\' && j + 1 < text.length) j++;
        if (text[j] === '\n') line++;
        v += text[j];
        j++;
      }
      out.push({ v, line: start, quoted: true });
      i = j + 1;
    } else if ('{};,'.includes(c)) {
      out.push({ v: c, line, quoted: false });
      i++;
    } else {
      let j = i;
      while (j < text.length && !/[\s{};,"#]/.test(text[j]!)) j++;
      out.push({ v: text.slice(i, j), line, quoted: false });
      i = j;
    }
  }
  return out;
}

export function parseDhclientConf(text: string): DhclientConf {
  const toks = tokenize(text);
  const statements: DhclientStatement[] = [];
  const blocks: (string | null)[] = []; // the interface of each open block (null: another kind)
  let stmt: Token[] = [];
  const iface = () => {
    for (let k = blocks.length - 1; k >= 0; k--) if (blocks[k]) return blocks[k]!;
    return null;
  };
  for (const t of toks) {
    if (!t.quoted && t.v === '{') {
      const isIface = stmt[0]?.v === 'interface' && stmt.length >= 2;
      blocks.push(isIface ? stmt[1]!.v : null);
      stmt = [];
    } else if (!t.quoted && t.v === '}') {
      blocks.pop();
      stmt = [];
    } else if (!t.quoted && t.v === ';') {
      const [a, o] = stmt;
      if (a && o && !a.quoted && ACTIONS.has(a.v) && OPTIONS.has(o.v)) {
        const values = stmt
          .slice(2)
          .filter((x) => x.quoted || x.v !== ',')
          .map((x) => x.v);
        const text = stmt
          .map((x) => (x.quoted ? JSON.stringify(x.v) : x.v))
          .join(' ')
          .replace(/ ,/g, ',');
        statements.push({
          action: a.v as DhclientAction,
          option: o.v,
          values,
          interface: iface(),
          line: a.line,
          text: `${text};`,
        });
      }
      stmt = [];
    } else stmt.push(t);
  }
  return { statements, unterminated: stmt.length > 0 || blocks.length > 0 };
}

/** The nameservers dhclient will force into resolv.conf for an interface (null: any), with the
 *  statement each came from: `supersede` replaces the server's list, `prepend` goes before it. An
 *  interface block's statement overrides the top-level one for that interface. */
export function forcedNameservers(
  conf: DhclientConf,
  ifname: string | null = null,
): { address: string; statement: DhclientStatement }[] {
  const pick = (action: DhclientAction) => {
    const all = conf.statements.filter((s) => s.option === 'domain-name-servers' && s.action === action);
    const scoped = ifname ? all.filter((s) => s.interface === ifname) : [];
    const chosen = scoped.length ? scoped : all.filter((s) => s.interface === null || ifname === null);
    return chosen.length ? chosen[chosen.length - 1]! : null;
  };
  const out: { address: string; statement: DhclientStatement }[] = [];
  for (const s of [pick('supersede'), pick('prepend')]) {
    if (s) for (const v of s.values) out.push({ address: v, statement: s });
  }
  return out;
}
