// ESLint flat config. Layering: every file belongs to one layer (main,
// preload, core, cli, renderer, shared, format, format-text (the format's pure
// entry point, keyhold-format/text), importer, test, build), and
// keyhold/layers (build/eslint/layers.js) resolves each import to the layer it
// lands in and checks it against that layer's allow-list, as VS Code's
// code-layering rule does: a layer is named, not spelled as a path, so
// `../main/router.js` from the core is refused however it is written. The same
// table says which Node modules (none, all, all but the network ones),
// electron (none, all, or named exports) and npm packages each layer may use,
// and another workspace package (keyhold-format, keyhold-import) is imported by
// its name only, never by a path into its files. docs/architecture.md
// ("Layers") explains each entry; test/unit/layers.test.ts feeds one forbidden
// import per boundary through ESLint and expects each to be reported. See
// ../shared/design/STYLE.md for why.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import keyhold from './build/eslint/layers.js';

// The workstation is air-gapped: these are refused wherever a layer's `node`
// is not 'all' (Node's modules and the npm clients alike).
const NETWORK = ['net', 'http', 'https', 'http2', 'dgram', 'tls', 'dns', 'undici', 'ws', 'axios', 'node-fetch'];

// Order matters: a file belongs to the first layer that lists it (so a test
// inside a package folder is a test). Entries are folders, or `re:` patterns
// on the path from the repository root.
const LAYERS = [
  {
    name: 'test', files: ['test', 're:^(format|importer)/test/', 're:\\.test\\.tsx?$'], anything: true,
    why: 'Tests reach whatever they test.',
  },
  {
    name: 'build', files: ['build', 're:^[^/]+\\.[cm]?[jt]s$'], anything: true,
    why: 'Build scripts and root config files assemble every layer.',
  },
  {
    name: 'main', files: ['electron/main'], allow: ['core', 'shared', 'format', 'format-text'], node: 'no-network', electron: 'all', packages: 'any',
    why: 'Main hosts the core and talks to the renderer only over IPC (router.ts): it never reaches the preload, renderer, CLI or importer, and never opens a network connection.',
  },
  {
    name: 'preload', files: ['electron/preload'], allow: ['shared'], node: 'none', electron: ['contextBridge', 'ipcRenderer', 'IpcRendererEvent'], packages: [],
    why: 'The sandboxed preload is the contextBridge API built from shared/: no Node, no main or core, nothing from electron but contextBridge and ipcRenderer.',
  },
  {
    name: 'core', files: ['electron/core'], allow: ['shared', 'format', 'format-text'], node: 'no-network', electron: 'none', packages: 'any',
    why: 'The core runs without Electron (under the CLI, the app and the tests) and never opens a network connection; it reaches nothing above it, and the bundle format only as keyhold-format.',
  },
  {
    name: 'cli', files: ['electron/cli'], allow: ['core', 'shared', 'format', 'format-text'], node: 'no-network', electron: 'none', packages: 'any',
    why: 'The CLI runs under plain Node over the core: no Electron, no main, no network.',
  },
  {
    name: 'renderer', files: ['renderer'], allow: ['shared'], node: 'none', electron: 'none', packages: ['react', 'react-dom', 'zustand'],
    why: 'The renderer is untrusted browser code: it reaches the core only through window.keyhold (the preload), so it imports shared/ and browser packages only.',
  },
  {
    name: 'shared', files: ['shared'], allow: ['format-text'], node: 'none', electron: 'none', packages: ['zod', '@scure/bip39', '@zxcvbn-ts/core', '@zxcvbn-ts/language-common'],
    why: 'shared/ is pure code used by main, the preload, the renderer and the CLI: no Node, no Electron, no DOM, no other layer but the pure part of the format (keyhold-format/text).',
  },
  {
    // The pure part of the format, served as `keyhold-format/text` to shared/
    // (and through it to the renderer): these files may import only each
    // other, so nothing Node can reach that entry point.
    name: 'format-text', files: ['format/src/text.ts', 'format/src/errors.ts', 'format/src/canonical.ts', 'format/src/apikey-text.ts'],
    allow: [], node: 'none', electron: 'none', packages: [],
    why: "keyhold-format/text is the format's pure part, which shared/ and so the renderer use: no Node, no jose, no other file of the format.",
  },
  {
    name: 'format', files: ['format'], allow: ['format-text'], node: 'no-network', electron: 'none', packages: ['jose'],
    why: 'keyhold-format is the bundle format that the app and the importer share: jose and Node only, and it depends on neither of them.',
  },
  {
    name: 'importer', files: ['importer'], allow: ['format', 'format-text'], node: 'all', electron: 'none', packages: ['jose'],
    why: 'keyhold-import installs and runs alone on a server: keyhold-format (by package name), jose and Node, never the app (shared/, electron/).',
  },
];

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'importer/dist/**', 'format/dist/**', 'node_modules/**', 'coverage/**', 'test/e2e/screenshots/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'electron/cli/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.node },
  },
  {
    plugins: { keyhold },
    rules: { 'keyhold/layers': ['error', { root: import.meta.dirname, workspaces: { 'keyhold-format': 'format', 'keyhold-import': 'importer' }, entries: { 'keyhold-format/text': 'format-text' }, network: NETWORK, layers: LAYERS }] },
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.tsx'],
    languageOptions: { globals: globals.browser },
  },
  {
    files: ['test/**/*.ts', 'build/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
