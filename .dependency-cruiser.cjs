// The layers of flowscope, checked in CI (test/layers/layers.test.ts runs this on src/):
//   model <- lib <- bpf <- agent | programs | hub | doctor <- cli;  web sees only model types.
// A violation fails the suite with the rule's name and the import that broke it.
/** @type {import('dependency-cruiser').IConfiguration} */
const NOT_TESTS = '\\.test\\.ts$';

module.exports = {
  forbidden: [
    {
      name: 'model-imports-nothing',
      comment: 'src/model is pure TypeScript shared by agent, hub and UI: no node: modules, no npm packages, nothing else of src/.',
      severity: 'error',
      from: { path: '^src/model/', pathNot: NOT_TESTS },
      to: { pathNot: '^src/model/' },
    },
    {
      name: 'lib-imports-only-model',
      comment: 'src/lib is what every component shares: it may use node: modules and npm packages, and of src/ only model.',
      severity: 'error',
      from: { path: '^src/lib/', pathNot: NOT_TESTS },
      to: { path: '^src/', pathNot: '^src/(lib|model)/' },
    },
    {
      name: 'bpf-imports-only-lib-and-model',
      comment: 'src/bpf is the facade over the native addon: of src/ it may use only lib and model.',
      severity: 'error',
      from: { path: '^src/bpf/', pathNot: NOT_TESTS },
      to: { path: '^src/', pathNot: '^src/(bpf|lib|model)/' },
    },
    {
      name: 'only-bpf-loads-the-addon',
      comment: 'Only src/bpf talks to the native addon (src/bpf/native.ts).',
      severity: 'error',
      from: { pathNot: '^src/bpf/' },
      to: { path: '^src/bpf/native\\.ts$' },
    },
    {
      name: 'tcp-views-stay-in-the-tcp-tracer',
      comment: 'The generated views of bpf/tcp.bpf.o are read only by the TCP tracer (src/agent/tcp), which hands out model records.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(agent/tcp|bpf)/' },
      to: { path: '^src/bpf/gen/tcp\\.gen\\.ts$' },
    },
    {
      name: 'flow-views-stay-in-the-packet-tracers',
      comment: 'The generated views of bpf/flows.bpf.o are read only by its tracers: flows, drops and DNS (src/agent/{flows,drops,dns}).',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(agent/(flows|drops|dns)|bpf)/' },
      to: { path: '^src/bpf/gen/flows\\.gen\\.ts$' },
    },
    {
      name: 'l7-views-stay-in-the-l7-tracer',
      comment: 'The generated views of bpf/l7.bpf.o are read only by the L7 tracer (src/agent/l7), which hands out exchanges (src/model/requests).',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(agent/l7|bpf)/' },
      to: { path: '^src/bpf/gen/l7\\.gen\\.ts$' },
    },
    {
      name: 'components-do-not-import-each-other',
      comment: 'agent, programs, hub and doctor import bpf, lib and model, never each other (or cli): the command line composes them.',
      severity: 'error',
      from: { path: '^src/(agent|programs|hub|doctor)/', pathNot: NOT_TESTS },
      to: { path: '^src/(agent|programs|hub|doctor|cli|web)/', pathNot: '^src/$1/' },
    },
    {
      name: 'hub-never-touches-the-kernel',
      comment: 'The hub runs anywhere: it never imports src/bpf.',
      severity: 'error',
      from: { path: '^src/hub/', pathNot: NOT_TESTS },
      to: { path: '^src/bpf/' },
    },
    {
      name: 'web-sees-only-model',
      comment: 'The UI imports only src/model (types) of the rest of src/.',
      severity: 'error',
      from: { path: '^src/web/', pathNot: NOT_TESTS },
      to: { path: '^src/', pathNot: '^src/(web|model)/' },
    },
    {
      name: 'nothing-imports-cli',
      comment: 'src/cli composes the components; nothing imports it.',
      severity: 'error',
      from: { path: '^src/', pathNot: `^src/cli/|${NOT_TESTS}` },
      to: { path: '^src/cli/' },
    },
    {
      name: 'no-circular',
      comment: 'Modules do not import each other in a circle.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js'] },
  },
};
