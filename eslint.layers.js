// The layering of Canopy's code, enforced by eslint-plugin-boundaries.
//
//   cli → ops / monitor → services → service-common / client → contracts → domain, store, can, hw → bus
//
// Every file under src/ belongs to exactly one element (the first pattern that
// matches; a file in no element is an error: give a new folder its element).
// The environment is read by the process configuration (src/config), which
// the layers below it may not import. An import is allowed only when a policy below allows it; imports
// inside one element (one service folder, the bus, …) are not checked.
// `util` (logging, bounds) is usable by everything except the bus, which
// depends on nothing of ours so that it can be published on its own.
// The dashboard (web/) is built for the browser and imports no server code.
import boundaries from 'eslint-plugin-boundaries';

/** One element per layer; a service is one element per folder, so one service cannot import another. */
const elements = [
  { type: 'cli', pattern: 'src/cli', mode: 'folder' },
  { type: 'ops', pattern: 'src/ops', mode: 'folder' },
  { type: 'monitor', pattern: 'src/monitor', mode: 'folder' },
  { type: 'service-common', pattern: 'src/services/common', mode: 'folder' },
  { type: 'service-common', pattern: 'src/services/types.ts', mode: 'file' },
  { type: 'service', pattern: 'src/services/*', mode: 'folder', capture: ['service'] },
  { type: 'config', pattern: 'src/config', mode: 'folder' },
  { type: 'client', pattern: 'src/client', mode: 'folder' },
  { type: 'contracts', pattern: 'src/contracts', mode: 'folder' },
  { type: 'contracts', pattern: 'src/gateway-protocol', mode: 'folder' },
  { type: 'domain', pattern: 'src/cea', mode: 'folder' },
  { type: 'store', pattern: 'src/store', mode: 'folder' },
  { type: 'can', pattern: 'src/can', mode: 'folder' },
  { type: 'hw', pattern: 'src/hw', mode: 'folder' },
  { type: 'util', pattern: 'src/util', mode: 'folder' },
  { type: 'bus', pattern: 'src/bus', mode: 'folder' },
  { type: 'web', pattern: 'web/src', mode: 'folder' },
];

const to = (...types) => ({ to: { element: { types: types.length === 1 ? types[0] : { anyOf: types } } } });
const lower = ['contracts', 'domain', 'store', 'can', 'hw', 'bus', 'util'];

/** Who may import whom (anything not listed is refused). */
const policies = [
  {
    from: { element: { type: 'cli' } },
    allow: to('ops', 'monitor', 'service', 'service-common', 'config', 'client', ...lower),
  },
  // operator tooling the cli runs (up, doctor, backup): above the services it checks
  { from: { element: { type: 'ops' } }, allow: to('service', 'service-common', 'config', ...lower) },
  { from: { element: { type: 'monitor' } }, allow: to('config', ...lower) },
  { from: { element: { type: 'service' } }, allow: to('service-common', 'config', ...lower) },
  { from: { element: { type: 'service-common' } }, allow: to('config', ...lower) },
  // the process configuration (environment → typed options) may build the options of the layers below
  { from: { element: { type: 'config' } }, allow: to(...lower) },
  { from: { element: { type: 'client' } }, allow: to('contracts', 'bus', 'util') },
  // the relay protocol (src/gateway-protocol) is built on the user-channel contracts
  { from: { element: { type: 'contracts' } }, allow: to('contracts', 'bus') },
  // the domain reads CAN frames and DBC signals; the store keeps domain records
  { from: { element: { type: 'domain' } }, allow: to('contracts', 'can', 'bus', 'util') },
  { from: { element: { type: 'store' } }, allow: to('contracts', 'domain', 'can', 'bus', 'util') },
  { from: { element: { type: 'can' } }, allow: to('contracts', 'bus', 'util') },
  { from: { element: { type: 'hw' } }, allow: to('contracts', 'bus', 'util') },
  { from: { element: { type: 'util' } }, allow: to() },
  { from: { element: { type: 'bus' } }, allow: to() },
  { from: { element: { type: 'web' } }, allow: to() },
];

export const layering = {
  files: ['src/**/*.ts', 'web/src/**/*.ts'],
  plugins: { boundaries },
  settings: {
    'import/resolver': {
      typescript: { project: ['tsconfig.json', 'web/tsconfig.json'], noWarnOnMultipleProjects: true },
    },
    'boundaries/elements': elements,
    'boundaries/legacy-templates': false,
    'boundaries/legacy-warnings': false,
  },
  rules: {
    'boundaries/dependencies': [
      'error',
      {
        default: 'disallow',
        // a relative import that resolves to no known file is refused too
        checkUnknownLocals: true,
        policies,
        message: 'layering: {{from.element.type}} may not import {{to.element.type}} (see eslint.layers.js)',
      },
    ],
    'boundaries/no-unknown-files': 'error',
  },
};
