/* The sign-up's password rules, checked as you type: a mirror of Django's validators
 * (django.contrib.auth.password_validation) for the rules a browser can check alone.
 * The server stays the judge (it checks them again, and the common-password list, on
 * submit); the settings of each rule come from the page (the validators' own). Pure:
 * no document, no window. */

/* How many characters, as Python counts them (code points, not UTF-16 units). */
function length(text) {
  return Array.from(text).length;
}

/* difflib.SequenceMatcher(a, b).quick_ratio(): the share of characters in common. */
export function quickRatio(a, b) {
  const left = Array.from(a);
  const right = Array.from(b);
  const total = left.length + right.length;
  if (total === 0) return 1;
  const available = new Map();
  for (const char of right) available.set(char, (available.get(char) || 0) + 1);
  let matches = 0;
  for (const char of left) {
    const count = available.get(char) || 0;
    if (count > 0) {
      matches += 1;
      available.set(char, count - 1);
    }
  }
  return (2 * matches) / total;
}

/* UserAttributeSimilarityValidator against the username: the password too like the
 * name, or like any word of it. */
export function tooLikeUsername(password, username, maxSimilarity = 0.7) {
  if (!password || !username) return false;
  const lowered = password.toLowerCase();
  const name = username.toLowerCase();
  // Python's re.split(r"\W+") in Unicode: letters, digits and "_" are word characters.
  const parts = [...name.split(/[^\p{L}\p{N}_]+/u), name];
  return parts.some((part) => {
    const passwordLength = length(lowered);
    const partLength = length(part);
    // exceeds_maximum_length_ratio: a part this much shorter cannot be similar enough.
    if (passwordLength >= 10 * partLength && partLength < (maxSimilarity / 2) * passwordLength) {
      return false;
    }
    return quickRatio(lowered, part) >= maxSimilarity;
  });
}

/* Each rule's state for this password: true (met), false (not met), or null (this page
 * cannot tell: the server checks it on submit; or nothing typed yet). `rules` is a list
 * of {rule, min, maxSimilarity} as the page lists them. */
export function checkPassword(password, username, rules) {
  const states = {};
  for (const {rule, min, maxSimilarity} of rules) {
    if (!password) {
      states[rule] = null;
    } else if (rule === "length") {
      states[rule] = length(password) >= min;
    } else if (rule === "numeric") {
      states[rule] = !/^\p{Nd}+$/u.test(password);
    } else if (rule === "similar") {
      states[rule] = !tooLikeUsername(password, username, maxSimilarity);
    } else {
      states[rule] = null;
    }
  }
  return states;
}

/* The confirmation against the password: "empty", "typing" (so far the start of the
 * password: not yet a mistake), "match" or "mismatch". */
export function confirmationState(password, confirmation) {
  if (!confirmation) return "empty";
  if (confirmation === password) return "match";
  if (password.startsWith(confirmation)) return "typing";
  return "mismatch";
}
