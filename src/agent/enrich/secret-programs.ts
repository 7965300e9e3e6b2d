// Programs whose short flags or positional arguments carry secrets, as their manuals document them.
// Generic rules (long flags and variables named like secrets, URLs, headers) are in redact.ts; these
// are the ones a name does not give away: mysql -pSECRET, curl -u user:SECRET, sshpass -p SECRET.

/** What of a flag's value is secret: all of it, or what follows the first separator (user:password). */
export type SecretPart = 'all' | 'after-colon' | 'after-percent' | 'after-comma';

export interface FlagRule {
  part: SecretPart;
  /** -pSECRET */
  attached: boolean;
  /** -p SECRET */
  separate: boolean;
}

export type PositionalRule =
  /** The last positional argument when batch mode (-b) is on: htpasswd -b FILE USER PASSWORD. */
  | 'last-in-batch-mode'
  /** The first positional after `login`: vault login TOKEN. */
  | 'after-login'
  /** Every positional after AUTH (a Redis command given as arguments): redis-cli AUTH [user] PASSWORD. */
  | 'after-auth'
  /** user/password@service logons: sqlplus scott/tiger@orcl, expdp userid=scott/tiger. */
  | 'oracle-logon';

export interface ProgramRules {
  flags?: Record<string, FlagRule>;
  /** The flags apply only when this word is among the arguments (docker login -p; docker run -p is a port). */
  onlyWith?: string;
  positional?: PositionalRule;
}

const both = (part: SecretPart = 'all'): FlagRule => ({ part, attached: true, separate: true });
const attachedOnly: FlagRule = { part: 'all', attached: true, separate: false };

function family(names: string[], rules: ProgramRules): Array<[string, ProgramRules]> {
  return names.map((n) => [n, rules]);
}

const PROGRAMS = new Map<string, ProgramRules>([
  // mysql(1): --password[=password], -p[password]; "-p password" would prompt and take a database.
  ...family(['mysql', 'mysqldump', 'mysqladmin', 'mysqlimport', 'mysqlshow', 'mysqlcheck', 'mysqlpump', 'mysqlbinlog', 'mysqlsh', 'mariadb', 'mariadb-dump', 'mariadb-admin', 'mariadb-import', 'mariadb-check'], {
    flags: { '-p': attachedOnly },
  }),
  // sshpass(1): -p password
  ['sshpass', { flags: { '-p': both() } }],
  // redis-cli: -a <password>, and AUTH as a command.
  ...family(['redis-cli', 'valkey-cli', 'keydb-cli'], { flags: { '-a': both() }, positional: 'after-auth' }),
  // curl(1): -u/--user <user:password>, -U/--proxy-user, -E/--cert <certificate[:password]>
  ['curl', {
    flags: { '-u': both('after-colon'), '--user': both('after-colon'), '-U': both('after-colon'), '--proxy-user': both('after-colon'), '-E': both('after-colon'), '--cert': both('after-colon'), '--proxy-cert': both('after-colon') },
  }],
  // ldapsearch(1) and friends: -w passwd; ldappasswd: -a oldPasswd, -s newPasswd
  ...family(['ldapsearch', 'ldapmodify', 'ldapadd', 'ldapdelete', 'ldapwhoami', 'ldapcompare', 'ldapmodrdn', 'ldapexop', 'ldapurl'], { flags: { '-w': both() } }),
  ['ldappasswd', { flags: { '-w': both(), '-a': both(), '-s': both() } }],
  // smbclient(1): -U|--user=[DOMAIN\]USERNAME[%PASSWORD]
  ...family(['smbclient', 'rpcclient', 'smbcacls', 'smbget', 'smbtree', 'smbcquotas', 'net'], { flags: { '-U': both('after-percent'), '--user': both('after-percent') } }),
  // lftp(1): -u user[,pass]
  ['lftp', { flags: { '-u': both('after-comma'), '--user': both('after-comma') } }],
  // openssl-enc(1): -k password (pass:SECRET sources are caught wherever they stand)
  ['openssl', { flags: { '-k': both() } }],
  // docker login: -p, --password
  ...family(['docker', 'podman', 'nerdctl', 'buildah', 'skopeo', 'helm', 'oras', 'crane', 'regctl'], { flags: { '-p': both() }, onlyWith: 'login' }),
  // az login: -p, --password
  ['az', { flags: { '-p': both() }, onlyWith: 'login' }],
  // mongosh, mongodump ...: -p, --password
  ...family(['mongo', 'mongosh', 'mongodump', 'mongorestore', 'mongoexport', 'mongoimport', 'mongostat', 'mongotop', 'mongofiles'], { flags: { '-p': both() } }),
  // sqlcmd, bcp: -P password
  ...family(['sqlcmd', 'bcp', 'osql'], { flags: { '-P': both() } }),
  // htpasswd(1): htpasswd -b[cmBdpsD] passwdfile username password
  ['htpasswd', { positional: 'last-in-batch-mode' }],
  // vault login [TOKEN]
  ['vault', { positional: 'after-login' }],
  // SQL*Plus: sqlplus user/password@connect_identifier; Data Pump: userid=user/password
  ...family(['sqlplus', 'rman', 'expdp', 'impdp', 'exp', 'imp', 'sqlldr', 'dgmgrl'], { positional: 'oracle-logon' }),
]);

export function programBaseName(word: string): string {
  const slash = word.lastIndexOf('/');
  return slash >= 0 ? word.slice(slash + 1) : word;
}

export function rulesFor(program: string): ProgramRules | undefined {
  return PROGRAMS.get(programBaseName(program));
}

export function isKnownProgram(word: string): boolean {
  return PROGRAMS.has(programBaseName(word));
}
