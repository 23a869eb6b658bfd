// ESLint's flat config: the recommended rules for the browser modules (static/) and
// their unit tests (tests/js/, run by node --test).
import js from "@eslint/js";
import globals from "globals";

export default [
  {ignores: ["node_modules/", "var/", ".venv/"]},
  js.configs.recommended,
  {
    files: ["static/**/*.js"],
    languageOptions: {ecmaVersion: 2022, sourceType: "module", globals: globals.browser},
  },
  // The admin's pages load these as classic scripts (Django admin Media).
  {
    files: ["static/rtsite/admin.js", "static/game/arena_admin.js"],
    languageOptions: {sourceType: "script"},
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: {ecmaVersion: 2022, sourceType: "module", globals: globals.node},
  },
];
