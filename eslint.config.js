// ESLint flat config. Layering rules keep each folder to where its code runs
// (see ../shared/design/STYLE.md): shared/ is pure, core never imports
// electron, the renderer never imports Node.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = ['node:*', 'fs', 'path', 'os', 'crypto', 'child_process', 'net', 'http', 'https', 'url', 'util'];
const NETWORK = ['node:net', 'node:http', 'node:https', 'node:http2', 'node:dgram', 'node:tls', 'net', 'http', 'https',
  'http2', 'dgram', 'tls', 'undici', 'ws', 'axios', 'node-fetch'];

const noImport = (names, message) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: names, message }] }],
});

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'importer/dist/**', 'node_modules/**', 'coverage/**', 'test/e2e/screenshots/**'] },
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
    files: ['shared/**/*.ts'],
    rules: noImport([...NODE_BUILTINS, 'electron', 'react', 'react-dom'],
      'shared/ is pure code used by the app, the renderer and the importer: no Node, no Electron, no DOM.'),
  },
  {
    files: ['electron/core/**/*.ts', 'electron/cli/**/*.ts'],
    rules: noImport(['electron', ...NETWORK],
      'The core and CLI run without Electron and never open a network connection (the workstation is air-gapped).'),
  },
  {
    files: ['electron/main/**/*.ts'],
    rules: noImport(NETWORK, 'Main never opens a network connection (the workstation is air-gapped).'),
  },
  {
    files: ['electron/preload/**/*.ts'],
    rules: noImport([...NODE_BUILTINS, '../core/*', '../../electron/core/*'],
      'The sandboxed preload holds only the contextBridge API: no Node, no core.'),
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.tsx'],
    languageOptions: { globals: globals.browser },
    rules: noImport([...NODE_BUILTINS, 'electron', '../../electron/*', '**/electron/**'],
      'The renderer is untrusted browser code: it reaches the core only through window.keyhold.'),
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
