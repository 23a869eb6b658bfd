// Just enough of a document for the modules that build nodes (chat/text.js's render):
// elements record their tag, attributes and children; strings appended are text nodes.
class FakeNode {
  constructor(tagName) {
    this.tagName = tagName;
    this.children = [];
    this.textContent = "";
    this.className = "";
    this.classList = {add: (name) => (this.className = (this.className + " " + name).trim())};
  }

  append(...items) {
    for (const item of items) this.children.push(typeof item === "string" ? {text: item} : item);
  }
}

export function fakeDocument() {
  const created = [];
  return {
    created, // every element made, in order
    createElement(tagName) {
      const node = new FakeNode(tagName);
      created.push(node);
      return node;
    },
    createDocumentFragment() {
      return new FakeNode("#fragment");
    },
  };
}
