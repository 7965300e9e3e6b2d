// The command lines redaction is proven on: each is a shape a secret takes on a real command line, as
// the tool's own manual shows it (the source is named). The unit tests check each with its example
// secret and with generated ones; the kernel test starts real processes with these command lines.

/** Characters a generated secret of a shape is drawn from (what the shape lets a secret contain). */
export type SecretAlphabet =
  /** Anything printable, spaces included (one argument, or everything after a header's colon). */
  | 'printable'
  /** Printable without whitespace or quotes (inside a command string, a conninfo, a -c value). */
  | 'word'
  /** RFC 3986 unreserved characters and percent-escapes (URL user-info, query values). */
  | 'url'
  /** The token format's own alphabet: the generator builds the whole token (see `token`). */
  | 'token';

export interface SecretShape {
  name: string;
  /** Where the command line comes from. */
  source: string;
  /** The command line with `secret` in place. */
  argv(secret: string): string[];
  /** A realistic secret for the table. */
  example: string;
  alphabet: SecretAlphabet;
  /** For alphabet 'token': the format (prefix, body characters, body length). */
  token?: { prefix: string; chars: string; length: number; suffix?: string };
  /** The redacted command line, when it is not argv('<redacted>'). */
  redacted?: string[];
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const UPPER_NUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const B64URL = `${ALNUM}_-`;

export const SECRET_SHAPES: SecretShape[] = [
  // MySQL
  { name: 'mysql -pPASSWORD', source: 'mysql(1): -p[password]', argv: (s) => ['mysql', '-h', 'db.internal', '-u', 'root', `-p${s}`, 'shop'], example: 'Sup3r$ecret', alphabet: 'printable' },
  { name: 'mysql --password=PASSWORD', source: 'mysql(1): --password[=password]', argv: (s) => ['mysql', '--host=db', '--user=app', `--password=${s}`], example: 'hunter2hunter2', alphabet: 'printable' },
  { name: 'mysqldump -pPASSWORD', source: 'mysqldump(1)', argv: (s) => ['/usr/bin/mysqldump', '-uroot', `-p${s}`, '--single-transaction', 'shop'], example: 'dumpPa55', alphabet: 'printable' },
  { name: 'mariadb -pPASSWORD through sudo', source: 'mariadb(1), sudo(8)', argv: (s) => ['sudo', '-u', 'backup', 'mariadb', `-p${s}`, '-e', 'SHOW DATABASES'], example: 'Maria!2024', alphabet: 'printable' },
  { name: "mysql -e \"CREATE USER ... IDENTIFIED BY 'PASSWORD'\"", source: 'MySQL Reference Manual, CREATE USER', argv: (s) => ['mysql', '-u', 'root', '-e', `CREATE USER 'app'@'%' IDENTIFIED BY '${s}'`], example: 'n3wUserPw', alphabet: 'word' },
  { name: 'MYSQL_PWD=PASSWORD through env', source: 'MySQL Reference Manual, environment variables; env(1)', argv: (s) => ['env', `MYSQL_PWD=${s}`, 'mysql', '-u', 'root'], example: 'envPw-77', alphabet: 'printable' },
  // curl and wget
  { name: 'curl -u user:PASSWORD', source: 'curl(1): -u, --user <user:password>', argv: (s) => ['curl', '-u', `admin:${s}`, 'https://jenkins.example.com/api/json'], example: 'jenk1nsPw', alphabet: 'printable' },
  { name: 'curl --user=user:PASSWORD', source: 'curl(1): --user', argv: (s) => ['curl', '-s', `--user=deploy:${s}`, 'https://nexus.example.com/service/rest/v1/status'], example: 'nexus-pw-9', alphabet: 'printable' },
  { name: 'curl -H "Authorization: Bearer TOKEN"', source: 'curl(1): -H, --header; RFC 6750 §2.1', argv: (s) => ['curl', '-H', `Authorization: Bearer ${s}`, 'https://api.example.com/v1/me'], example: 'mF_9.B5f-4.1JqM', alphabet: 'printable' },
  { name: 'curl --header "X-Api-Key: KEY"', source: 'curl(1): --header', argv: (s) => ['curl', '--header', `X-Api-Key: ${s}`, 'https://api.example.com/items'], example: 'k3y-4b1d6c8e', alphabet: 'printable' },
  { name: 'wget --header=X-Api-Key: KEY', source: 'wget(1): --header=header-line', argv: (s) => ['wget', `--header=X-Api-Key: ${s}`, 'https://downloads.example.com/a.tgz'], example: 'wgetApiKey01', alphabet: 'printable' },
  { name: 'wget --http-password=PASSWORD', source: 'wget(1): --http-user, --http-password', argv: (s) => ['wget', '--http-user=ci', `--http-password=${s}`, 'https://repo.example.com/x.deb'], example: 'httpPass!!', alphabet: 'printable' },
  { name: 'curl URL?access_token=TOKEN', source: 'RFC 6750 §2.3 (URI query parameter)', argv: (s) => ['curl', `https://graph.example.com/me?fields=id&access_token=${s}`], example: 'EAAGm0PX4ZCps', alphabet: 'url' },
  { name: 'curl URL?api_key=KEY&...', source: 'curl(1) with an API key in the query', argv: (s) => ['curl', '-s', `https://api.example.com/v2/data?a=1&api_key=${s}&b=2`], example: 'abc123def456', alphabet: 'url' },
  { name: 'curl --oauth2-bearer TOKEN', source: 'curl(1): --oauth2-bearer <token>', argv: (s) => ['curl', '--oauth2-bearer', s, 'imaps://mail.example.com/'], example: 'oauthTok-777', alphabet: 'printable' },
  { name: 'curl -x http://user:PASSWORD@proxy', source: 'curl(1): -x, --proxy [protocol://]host[:port] with user:password', argv: (s) => ['curl', '-x', `http://proxyuser:${s}@proxy.internal:3128`, 'https://example.com/'], example: 'pr0xyPw', alphabet: 'url' },
  { name: 'curl -u KEY: (Stripe secret key as user name)', source: 'Stripe API reference, Authentication', argv: (s) => ['curl', 'https://api.stripe.com/v1/charges', '-u', `${s}:`], example: 'sk_test_4eC39HqLyjWDarjtT1zdp7dc', alphabet: 'token', token: { prefix: 'sk_live_', chars: ALNUM, length: 24 } },
  // Redis
  { name: 'redis-cli -a PASSWORD', source: 'redis-cli documentation: -a <password>', argv: (s) => ['redis-cli', '-h', 'cache', '-p', '6379', '-a', s, 'PING'], example: 'r3disPass', alphabet: 'printable' },
  { name: 'redis-cli -u redis://user:PASSWORD@host', source: 'redis-cli documentation: -u <uri>', argv: (s) => ['redis-cli', '-u', `redis://default:${s}@cache.internal:6379/0`, 'INFO'], example: 'redisUriPw', alphabet: 'url' },
  { name: 'redis-cli AUTH user PASSWORD', source: 'Redis commands: AUTH [username] password', argv: (s) => ['redis-cli', '-h', 'cache', 'AUTH', 'default', s], example: 'authCmdPw', alphabet: 'printable' },
  { name: 'redis-server --requirepass PASSWORD', source: 'redis.conf: requirepass (directives as arguments)', argv: (s) => ['redis-server', '--port', '6380', '--requirepass', s], example: 'requirePw1', alphabet: 'printable' },
  // SSH, LDAP, SMB, FTP
  { name: 'sshpass -p PASSWORD ssh', source: 'sshpass(1): -p password', argv: (s) => ['sshpass', '-p', s, 'ssh', 'admin@10.0.0.5', 'uptime'], example: 'sshP4ss', alphabet: 'printable' },
  { name: 'sshpass -pPASSWORD scp', source: 'sshpass(1)', argv: (s) => ['sshpass', `-p${s}`, 'scp', 'backup.tgz', 'admin@10.0.0.5:/srv'], example: 'scpP4ss', alphabet: 'printable' },
  { name: 'ldapsearch -w PASSWORD', source: 'ldapsearch(1): -w passwd', argv: (s) => ['ldapsearch', '-x', '-H', 'ldap://ldap.example.org', '-D', 'cn=admin,dc=example,dc=org', '-w', s, '-b', 'dc=example,dc=org'], example: 'ldapAdm1n', alphabet: 'printable' },
  { name: 'smbclient -U user%PASSWORD', source: 'smbclient(1): -U|--user=[DOMAIN\\]USERNAME[%PASSWORD]', argv: (s) => ['smbclient', '//fs01/share', '-U', `alice%${s}`, '-c', 'ls'], example: 'smbPw-42', alphabet: 'printable' },
  { name: 'lftp -u user,PASSWORD', source: 'lftp(1): -u user[,pass]', argv: (s) => ['lftp', '-u', `mirror,${s}`, 'sftp://files.example.com'], example: 'lftpPw', alphabet: 'printable' },
  // PostgreSQL, MongoDB, SQL Server, Oracle
  { name: 'PGPASSWORD=PASSWORD psql through env', source: 'PostgreSQL documentation 34.15 (environment variables); env(1)', argv: (s) => ['env', `PGPASSWORD=${s}`, 'psql', '-h', 'db', '-U', 'app', 'app'], example: 'pgPassw0rd', alphabet: 'printable' },
  { name: 'psql postgresql://user:PASSWORD@host/db', source: 'PostgreSQL documentation 34.1.1.2 (connection URIs)', argv: (s) => ['psql', `postgresql://app:${s}@db.internal:5432/app?sslmode=require`], example: 'uriPgPw', alphabet: 'url' },
  { name: 'psql "host=... password=PASSWORD"', source: 'PostgreSQL documentation 34.1.1.1 (keyword/value connection strings)', argv: (s) => ['psql', `host=db.internal user=app password=${s} dbname=app`], example: 'kvPgPw', alphabet: 'word' },
  { name: 'mongosh mongodb+srv://user:PASSWORD@cluster', source: 'MongoDB connection string URI format', argv: (s) => ['mongosh', `mongodb+srv://app:${s}@cluster0.example.mongodb.net/shop`], example: 'm0ngoPw', alphabet: 'url' },
  { name: 'mongodump --password PASSWORD', source: 'mongodump documentation: --password', argv: (s) => ['mongodump', '--host', 'db', '--username', 'backup', '--password', s, '--out', '/backup'], example: 'mongoDumpPw', alphabet: 'printable' },
  { name: 'sqlcmd -P PASSWORD', source: 'sqlcmd utility: -P password', argv: (s) => ['/opt/mssql-tools18/bin/sqlcmd', '-S', 'localhost', '-U', 'sa', '-P', s, '-Q', 'SELECT 1'], example: 'Str0ng!Passw0rd', alphabet: 'printable' },
  { name: 'sqlplus user/PASSWORD@service', source: 'SQL*Plus User\'s Guide: SQLPLUS logon', argv: (s) => ['sqlplus', '-s', `scott/${s}@orcl`, '@report.sql'], example: 'tiger', alphabet: 'word' },
  // Keys and certificates
  { name: 'openssl -passout pass:PASSWORD', source: 'openssl-passphrase-options(1): pass:password', argv: (s) => ['openssl', 'pkcs12', '-export', '-in', 'cert.pem', '-inkey', 'key.pem', '-out', 'cert.p12', '-passout', `pass:${s}`], example: 'p12Export', alphabet: 'printable' },
  { name: 'keytool -storepass PASSWORD -keypass PASSWORD', source: 'keytool documentation', argv: (s) => ['keytool', '-genkeypair', '-alias', 'app', '-keystore', 'app.jks', '-storepass', s, '-keypass', s, '-dname', 'CN=app'], example: 'changeit99', alphabet: 'printable' },
  { name: 'java -Djavax.net.ssl.keyStorePassword=PASSWORD', source: 'JSSE Reference Guide (system properties)', argv: (s) => ['java', `-Djavax.net.ssl.keyStorePassword=${s}`, '-jar', 'app.jar'], example: 'jksPass', alphabet: 'printable' },
  { name: 'htpasswd -b FILE USER PASSWORD', source: 'htpasswd(1): -b', argv: (s) => ['htpasswd', '-b', '-c', '/etc/nginx/.htpasswd', 'alice', s], example: 'htPass1', alphabet: 'printable' },
  // Containers and Kubernetes
  { name: 'docker login -p PASSWORD', source: 'docker login reference: --password, -p', argv: (s) => ['docker', 'login', '-u', 'ci', '-p', s, 'registry.example.com'], example: 'dockerPw', alphabet: 'printable' },
  { name: 'docker run -e POSTGRES_PASSWORD=PASSWORD', source: 'docker run reference: -e; postgres image documentation', argv: (s) => ['docker', 'run', '-d', '-p', '5432:5432', '-e', `POSTGRES_PASSWORD=${s}`, 'postgres:16'], example: 'pgImagePw', alphabet: 'printable' },
  { name: 'kubectl create secret --from-literal=password=PASSWORD', source: 'kubectl create secret generic reference', argv: (s) => ['kubectl', 'create', 'secret', 'generic', 'db-user-pass', '--from-literal=username=admin', `--from-literal=password=${s}`], example: 'S!B\\*d$zDsb=', alphabet: 'printable' },
  { name: 'kubectl --token=TOKEN', source: 'kubectl reference: --token', argv: (s) => ['kubectl', `--token=${s}`, '--server=https://k8s.example.com:6443', 'get', 'pods'], example: 'kubeBearer123', alphabet: 'printable' },
  { name: 'helm --set auth.postgresPassword=PASSWORD', source: 'Bitnami PostgreSQL chart parameters; helm install --set', argv: (s) => ['helm', 'install', 'db', 'bitnami/postgresql', '--set', `auth.postgresPassword=${s}`], example: 'helmPgPw', alphabet: 'printable' },
  // Git
  { name: 'git clone https://oauth2:TOKEN@gitlab', source: 'GitLab documentation: clone with a token', argv: (s) => ['git', 'clone', `https://oauth2:${s}@gitlab.example.com/group/project.git`], example: 'gitlabTok', alphabet: 'url' },
  { name: 'git -c http.extraHeader="Authorization: Basic CREDENTIALS"', source: 'git-config(1): http.extraHeader', argv: (s) => ['git', '-c', `http.extraHeader=Authorization: Basic ${s}`, 'clone', 'https://git.example.com/r.git'], example: 'dXNlcjpwYXNz', alphabet: 'printable' },
  { name: 'git clone https://TOKEN@github.com (GitHub token as user name)', source: 'GitHub Docs: personal access tokens on the command line', argv: (s) => ['git', 'clone', `https://${s}@github.com/owner/repo.git`], example: 'ghp_16C7e42F292c6912E7710c838347Ae178B4a', alphabet: 'token', token: { prefix: 'ghp_', chars: ALNUM, length: 36 } },
  // Cloud credentials and tokens by format
  { name: 'aws configure set aws_secret_access_key KEY', source: 'AWS CLI: aws configure set', argv: (s) => ['aws', 'configure', 'set', 'aws_secret_access_key', s], example: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', alphabet: 'printable' },
  { name: 'AWS_SECRET_ACCESS_KEY=KEY through env', source: 'AWS CLI: environment variables', argv: (s) => ['env', 'AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE', `AWS_SECRET_ACCESS_KEY=${s}`, 'aws', 's3', 'ls'], example: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', alphabet: 'printable', redacted: ['env', 'AWS_ACCESS_KEY_ID=<redacted>', 'AWS_SECRET_ACCESS_KEY=<redacted>', 'aws', 's3', 'ls'] },
  { name: 'aws ... --access-key-id AKIA... (access key id by format)', source: 'AWS CLI: aws sts get-access-key-info', argv: (s) => ['aws', 'sts', 'get-access-key-info', '--access-key-id', s], example: 'AKIAIOSFODNN7EXAMPLE', alphabet: 'token', token: { prefix: 'AKIA', chars: UPPER_NUM, length: 16 } },
  { name: 'an AWS access key id where no rule names it', source: 'AWS IAM identifiers (AKIA prefix)', argv: (s) => ['python3', 'sync.py', s, 's3://bucket/path'], example: 'AKIAI44QH8DHBEXAMPLE', alphabet: 'token', token: { prefix: 'AKIA', chars: UPPER_NUM, length: 16 } },
  { name: 'a GitHub fine-grained token where no rule names it', source: 'GitHub Docs: token formats (github_pat_)', argv: (s) => ['node', 'release.js', '--repo', 'owner/repo', s], example: 'github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ01234567', alphabet: 'token', token: { prefix: 'github_pat_', chars: `${ALNUM}_`, length: 82 } },
  { name: 'a Slack bot token where no rule names it', source: 'Slack token types (xoxb-)', argv: (s) => ['node', 'notify.js', '#alerts', s], example: 'xoxb-2712345678901-2712345678902-AbCdEfGhIjKlMnOpQrStUvWx', alphabet: 'token', token: { prefix: 'xoxb-', chars: `${ALNUM}-`, length: 50 } },
  { name: 'curl to a Slack incoming webhook URL', source: 'Slack: Sending messages using incoming webhooks', argv: (s) => ['curl', '-X', 'POST', '-H', 'Content-type: application/json', '--data', '{"text":"deployed"}', `https://hooks.slack.com/services/T00000000/B00000000/${s}`], example: 'XXXXXXXXXXXXXXXXXXXXXXXX', alphabet: 'token', token: { prefix: '', chars: ALNUM, length: 24 } },
  { name: 'curl URL?key=AIza... (Google API key)', source: 'Google Maps Platform: Geocoding API request', argv: (s) => ['curl', `https://maps.googleapis.com/maps/api/geocode/json?address=Paris&key=${s}`], example: 'AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe', alphabet: 'token', token: { prefix: 'AIza', chars: B64URL, length: 35 } },
  { name: 'a Google OAuth access token where no rule names it', source: 'Google OAuth 2.0 access tokens (ya29.)', argv: (s) => ['node', 'upload.js', 'report.csv', s], example: 'ya29.a0AfH6SMBx3d8kT2EXAMPLEtokenValue_abc-DEF', alphabet: 'token', token: { prefix: 'ya29.', chars: B64URL, length: 60 } },
  { name: 'a JWT where no rule names it', source: 'RFC 7519 (JSON Web Token, compact serialisation)', argv: (s) => ['node', 'client.js', 'https://api.example.com', s], example: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c', alphabet: 'token', token: { prefix: 'eyJhbGciOiJSUzI1NiJ9.eyJ', chars: B64URL, length: 40, suffix: '.sig' } },
  { name: 'vault login TOKEN', source: 'Vault CLI: vault login [TOKEN]', argv: (s) => ['vault', 'login', s], example: 'hvs.CAESIJ3EXAMPLEtokenvalue0123456789', alphabet: 'printable' },
  { name: 'vault write auth/jwt/login jwt=TOKEN', source: 'Vault JWT auth method', argv: (s) => ['vault', 'write', 'auth/jwt/login', 'role=demo', `jwt=${s}`], example: 'someJwtValue.abc.def', alphabet: 'printable' },
  { name: 'curl --header "PRIVATE-TOKEN: glpat-..."', source: 'GitLab REST API: personal access tokens', argv: (s) => ['curl', '--header', `PRIVATE-TOKEN: ${s}`, 'https://gitlab.example.com/api/v4/projects'], example: 'glpat-xxxxxxxxxxxxxxxxxxxx', alphabet: 'printable' },
  { name: 'npm config set //registry/:_authToken=TOKEN', source: 'npm documentation: npmrc auth-related configuration', argv: (s) => ['npm', 'config', 'set', `//registry.npmjs.org/:_authToken=${s}`], example: 'npm_abcdefghijklmnopqrstuvwxyz0123456789', alphabet: 'printable' },
  { name: 'az storage --connection-string "...;AccountKey=KEY;..."', source: 'Azure Storage connection strings', argv: (s) => ['az', 'storage', 'blob', 'list', '-c', 'logs', '--connection-string', `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${s};EndpointSuffix=core.windows.net`], example: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==', alphabet: 'word' },
  { name: 'azcopy URL?...&sig=SIGNATURE (SAS)', source: 'Azure shared access signatures', argv: (s) => ['azcopy', 'copy', 'report.csv', `https://acct.blob.core.windows.net/c/report.csv?sv=2022-11-02&ss=b&sig=${s}`], example: 'aBcD1234%2BeFgH%3D', alphabet: 'url' },
  { name: 'curl S3 presigned URL (X-Amz-Signature)', source: 'Amazon S3: authenticating requests with query parameters', argv: (s) => ['curl', '-O', `https://bucket.s3.amazonaws.com/key.tgz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=${s}`], example: 'fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024', alphabet: 'url' },
  { name: 'celery --broker=amqp://user:PASSWORD@host//', source: 'Celery: broker URL', argv: (s) => ['celery', '-A', 'proj', 'worker', `--broker=amqp://guest:${s}@rabbit:5672//`], example: 'rabbitPw', alphabet: 'url' },
  { name: "sh -c 'curl -u user:PASSWORD ...'", source: 'sh(1): -c command_string', argv: (s) => ['sh', '-c', `curl -fsS -u admin:${s} http://localhost:8080/health`], example: 'shellPw', alphabet: 'word' },
  { name: 'curl --data \'{"password":"PASSWORD"}\'', source: 'curl(1): -d, --data (JSON body)', argv: (s) => ['curl', '-X', 'POST', '-H', 'Content-Type: application/json', '--data', `{"username":"alice","password":"${s}"}`, 'https://auth.example.com/login'], example: 'jsonPw', alphabet: 'word' },
  { name: 'a private key in an argument', source: 'RFC 7468 (PEM): -----BEGIN PRIVATE KEY-----', argv: (s) => ['node', 'sign.js', `-----BEGIN PRIVATE KEY-----\n${s}\n-----END PRIVATE KEY-----`], example: 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', alphabet: 'word', redacted: ['node', 'sign.js', '<redacted>'] },
];
