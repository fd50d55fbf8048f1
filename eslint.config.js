// @ts-check
/**
 * Lint: typescript-eslint with type information (the project's tsconfig.json).
 * Import cycles and layer rules are checked by dependency-cruiser (.dependency-cruiser.cjs),
 * formatting by Prettier (.prettierrc.json); both run in `npm test`.
 */
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'dist-bench/**', 'dist-ablate/**', 'dist-old/**', 'coverage/**', 'node_modules/**', '.demo/**', 'assembly/**', 'scripts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      // `_name` marks a parameter or binding kept on purpose (express error handlers, rest omits)
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // interface methods are async whether or not one implementation awaits
      '@typescript-eslint/require-await': 'off',
      // stores and verifiers are closures or bound objects: a detached method is the norm, not a bug
      '@typescript-eslint/unbound-method': 'off',
      // Preact event attributes may be async (their promise is handled inside)
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
      // errors are mapped by class or code, never by name (src/errors.ts)
      'no-restricted-syntax': [
        'error',
        {
          selector: "BinaryExpression[operator=/^[!=]==?$/] > MemberExpression[object.name=/^(e|err|error|ex|exc)$/][property.name='name']",
          message: 'Do not match errors by name: use instanceof or the GatewayError code.',
        },
      ],
    },
  },
  {
    // tests read JSON answers as `any`: asserting on them is the point
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  {
    // the benchmark is being reworked with the scanning engine: only its type-level looseness is tolerated
    files: ['bench/**/*.ts'],
    rules: {
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  {
    // the field reader returns JSON.parse values as `unknown` by design
    files: ['src/rewrite/fieldReader.ts'],
    rules: { '@typescript-eslint/no-unsafe-return': 'off' },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
