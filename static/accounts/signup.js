/* The sign-up page's live checks: each password rule marked met or not as you type
 * (with a sign and words, not colour alone; the list is the password field's help text,
 * so its aria-describedby reads it), and whether the confirmation matches. Submitting
 * is never blocked: the server checks everything again and says what is wrong. */
import {checkPassword, confirmationState} from "./password_rules.js";

const STATE_WORDS = {true: "Done: ", false: "Not yet: ", null: ""};
const SIGNS = {true: "\u2713", false: "\u2717", null: "\u2022"};
const MATCH_WORDS = {
  empty: "",
  typing: "",
  match: " It matches.",
  mismatch: " It does not match the password above.",
};

function rulesOf(list) {
  return Array.from(list.querySelectorAll("li[data-rule]"), (item) => ({
    item,
    rule: item.dataset.rule,
    min: Number(item.dataset.min),
    maxSimilarity: Number(item.dataset.maxSimilarity),
  }));
}

function setUp(form) {
  const username = form.querySelector("input[name=username]");
  const password = form.querySelector("input[name=password1]");
  const confirmation = form.querySelector("input[name=password2]");
  const list = form.querySelector("[data-password-rules]");
  const match = form.querySelector("[data-match]");
  if (!username || !password || !confirmation || !list || !match) return;
  const rules = rulesOf(list).filter(({rule}) => rule);
  list.classList.add("live");

  function update() {
    const states = checkPassword(password.value, username.value, rules);
    for (const {item, rule} of rules) {
      const state = states[rule];
      item.dataset.state = String(state);
      item.querySelector(".rule-sign").textContent = SIGNS[state];
      item.querySelector(".rule-state").textContent = STATE_WORDS[state];
    }
    const matching = confirmationState(password.value, confirmation.value);
    match.dataset.state = matching;
    match.textContent = MATCH_WORDS[matching];
  }

  for (const field of [username, password, confirmation]) field.addEventListener("input", update);
  update();
}

for (const form of document.querySelectorAll("form[data-signup]")) setUp(form);
