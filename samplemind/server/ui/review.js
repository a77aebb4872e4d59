// The Review view (issue 19): the questions whose answers teach the library most, one at a
// time, with the sound's waveform and audio. Keys while the view is shown: 1-9 choose,
// Enter accepts the guess, s skips, p plays, u undoes the last answer. Each answer says how
// many sounds it changed; undo puts them back. Answers are corrections, so only editors
// answer: a viewer sees why there is nothing to do (the server refuses them too, 403).
// Self-contained: app.js only shows and hides it (show(), hide()) and leaves it its keys.

import { api, ApiError, params } from './api.js';
import { Waveform } from './wave.js';
import { Player } from './audio.js';
import { element } from './dom.js';

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export class ReviewView {
  /** root: the view's container; canEdit: whether this user may answer; query(): the query
   *  bar's text (questions are asked only about what it matches). */
  constructor(root, { canEdit, query = () => '' }) {
    this.root = root;
    this.canEdit = canEdit;
    this.query = query;
    this.reviewer = null; // the server hands one out with the first questions
    this.question = null;
    this.choices = [];
    this.categories = [];
    this.given = []; // this page's answers, newest last
    this.skipped = new Set();
    this.changed = 0;
    this.busy = false;
    this.shown = false;
    this.askedFor = null; // the query the current question answers
    this.audio = element('audio', { id: 'review-player', preload: 'none' });
    this.player = new Player(this.audio);
    this.build();
    document.addEventListener('keydown', (event) => this.onKey(event));
    for (const name of ['play', 'pause', 'ended', 'timeupdate', 'seeked']) {
      this.audio.addEventListener(name, () => this.tick());
    }
  }

  build() {
    this.status = element('span', { id: 'review-status', 'aria-live': 'polite' });
    this.tally = element('span', { id: 'review-tally', class: 'review-tally' });
    const line = element('div', { class: 'status-line' }, this.status, this.tally);
    this.body = element('div', { class: 'review-body' });
    this.result = element('p', { id: 'review-result', class: 'review-result', role: 'status', 'aria-live': 'polite' });
    this.root.replaceChildren(line, element('div', { class: 'review' }, this.body, this.result), this.audio);
    if (!this.canEdit) {
      this.status.textContent = 'Review is for editors.';
      this.body.append(element('p', { class: 'muted', text:
        'Each answer is a correction to the library, so only editors and admins answer review questions. '
        + 'You can still browse, listen and export.' }));
    }
  }

  show() {
    this.shown = true;
    const main = document.querySelector('#player');
    if (main) main.pause(); // one sound at a time
    if (this.canEdit && (!this.question || this.askedFor !== this.query().trim())) this.next();
  }

  hide() {
    this.shown = false;
    this.player.stop();
  }

  /** Ask the server for the next question this reviewer has not skipped. */
  async next() {
    if (this.busy && this.question) return;
    this.busy = true;
    const query = this.query().trim();
    this.status.textContent = 'Finding the question that teaches the most…';
    try {
      const answer = await api(`/review/next${params({ q: query, n: this.skipped.size + 1, reviewer: this.reviewer })}`);
      this.reviewer = answer.reviewer;
      this.categories = answer.categories || [];
      this.askedFor = query;
      this.question = answer.questions.find((q) => !this.skipped.has(`${q.sample_id}:${q.field}`)) || null;
      this.render();
    } catch (error) {
      this.question = null;
      this.body.replaceChildren(element('p', { class: 'error', text: error instanceof ApiError && error.status === 403
        ? 'Review is for editors.' : `Cannot ask: ${error.message}` }));
      this.status.textContent = '';
    } finally {
      this.busy = false;
    }
  }

  render() {
    const q = this.question;
    this.renderTally();
    if (!q) {
      this.status.textContent = this.askedFor ? `Nothing left to ask about “${this.askedFor}”.` : 'Nothing left to ask.';
      this.body.replaceChildren(element('p', { class: 'muted', text:
        'Every one-shot here has a category from a person, or a sure guess.' }));
      return;
    }
    this.choices = q.field === 'category' ? this.categories.slice(0, 9) : ['oneshot', 'loop'];
    const sure = q.confidence === null || q.confidence === undefined ? '' : ` (${Math.round(q.confidence * 100)} % sure)`;
    this.status.textContent = `Answer reaches about ${plural(q.touches, 'similar sound')}.`;
    const playButton = element('button', { type: 'button', id: 'review-play', class: 'play', 'aria-label': 'Play (p)', title: 'Play (p)', text: '▶', onclick: () => this.play() });
    this.playButton = playButton;
    const canvas = element('canvas', { id: 'review-wave', class: 'wave', role: 'img', 'aria-label': `Waveform of ${q.name}` });
    this.wave = new Waveform(canvas, (fraction) => this.play(fraction));
    const others = (q.alternatives || []).map((a) => (a.p === null || a.p === undefined ? a.value : `${a.value} ${Math.round(a.p * 100)} %`)).join(', ');
    const buttons = this.choices.map((value, i) => element('button', {
      type: 'button', class: `review-choice${value === q.guess ? ' guess' : ''}`, 'data-value': value,
      title: `${value} (${i + 1})`, onclick: () => this.answer(value),
    }, element('kbd', { text: String(i + 1) }), ` ${value}`));
    this.body.replaceChildren(
      element('h2', { id: 'review-name', text: q.name || `sample ${q.sample_id}` }),
      element('p', { class: 'path', text: q.path }),
      element('div', { class: 'wave-box' }, playButton, canvas),
      element('p', { id: 'review-question', class: 'review-question' },
        `${q.field === 'type' ? 'One-shot or loop?' : 'Which category?'} The guess: `,
        element('strong', { id: 'review-guess', text: q.guess || 'none' }), sure,
        others ? element('span', { class: 'muted', text: `  · or ${others}` }) : null),
      element('div', { class: 'review-choices', role: 'group', 'aria-label': 'Answers' }, ...buttons),
      element('div', { class: 'review-actions' },
        element('button', { type: 'button', id: 'review-accept', class: 'primary', disabled: !q.guess, onclick: () => q.guess && this.answer(q.guess) }, element('kbd', { text: 'Enter' }), ` ${q.guess || ''} is right`),
        element('button', { type: 'button', id: 'review-skip', onclick: () => this.skip() }, element('kbd', { text: 's' }), ' skip'),
        element('button', { type: 'button', id: 'review-undo', disabled: !this.given.length, onclick: () => this.undo() }, element('kbd', { text: 'u' }), ' undo')),
    );
    this.loadPeaks(q);
  }

  renderTally() {
    this.tally.textContent = this.given.length
      ? `${plural(this.given.length, 'answer')}, ${plural(this.changed, 'sound')} changed` : '';
  }

  async loadPeaks(q) {
    let peaks = [];
    try {
      peaks = (await api(`/samples/${q.sample_id}/peaks`)).peaks || [];
    } catch (error) {
      if (error.status !== 404) this.result.textContent = `No waveform: ${error.message}`;
    }
    if (this.question === q) this.wave.setPeaks(peaks);
  }

  async play(fraction = null) {
    const q = this.question;
    if (!q) return;
    try {
      await this.player.play({ id: q.sample_id, name: q.name, path: q.path }, fraction);
    } catch (error) {
      this.result.textContent = `Cannot play ${q.name}: ${error.message}`;
    }
  }

  tick() {
    if (!this.wave || !this.question || !this.player.sample || this.player.sample.id !== this.question.sample_id) return;
    this.wave.setProgress(this.player.fraction);
    if (this.playButton) this.playButton.textContent = this.player.playing ? '■' : '▶';
  }

  // One change at a time (an answer or an undo): `send` makes it and says what it did; on
  // success the next question follows, on failure the error stays shown after `failed`.
  async change(send, failed) {
    this.busy = true;
    try {
      await send();
    } catch (error) {
      this.result.textContent = `${failed}: ${error.message}`;
      this.busy = false;
      return;
    }
    this.busy = false;
    await this.next();
  }

  async answer(value) {
    const q = this.question;
    if (!q || this.busy) return;
    await this.change(async () => {
      this.result.textContent = `Teaching the library that ${q.name} is ${value}…`;
      const done = await api('/review/answers', { method: 'POST', body: {
        sample_id: q.sample_id, field: q.field, value, reviewer: this.reviewer } });
      this.given.push({ ...done, name: q.name });
      this.changed += done.changed;
      this.player.stop();
      this.result.textContent = `${q.name} is ${value}: ${plural(done.changed, 'sound')} changed.`;
      this.result.dataset.changed = String(done.changed);
    }, 'Not answered');
  }

  skip() {
    if (!this.question || this.busy) return;
    this.skipped.add(`${this.question.sample_id}:${this.question.field}`);
    this.result.textContent = `Skipped ${this.question.name}.`;
    this.next();
  }

  async undo() {
    if (!this.given.length || this.busy) return;
    const last = this.given[this.given.length - 1];
    await this.change(async () => {
      const undone = await api(`/review/answers/${last.answer_id}/undo`, { method: 'POST', body: {} });
      this.given.pop();
      this.changed -= last.changed;
      this.result.textContent = `Undone: ${last.name} — ${plural(undone.changed, 'sound')} changed back.`;
      this.result.dataset.changed = String(-undone.changed);
      this.skipped.delete(`${last.sample_id}:${last.field}`);
    }, 'Not undone');
  }

  onKey(event) {
    if (!this.shown || !this.canEdit || event.defaultPrevented) return;
    if (event.ctrlKey || event.metaKey || event.altKey || document.querySelector('dialog[open]')) return;
    const target = event.target;
    if (target.closest && target.closest('input, textarea, select, [contenteditable="true"]')) return;
    const key = event.key;
    if (/^[1-9]$/.test(key) && this.question && Number(key) <= this.choices.length) {
      event.preventDefault();
      this.answer(this.choices[Number(key) - 1]);
    } else if (key === 'Enter' && this.question && this.question.guess
               && !(this.root.contains(target) && target.closest('button, a, summary'))) {
      event.preventDefault();
      this.answer(this.question.guess);
    } else if (key === 's') {
      event.preventDefault();
      this.skip();
    } else if (key === 'p' || key === ' ') {
      if (key === ' ' && target.closest && target.closest('button')) return;
      event.preventDefault();
      if (this.player.playing) this.player.stop(); else this.play();
    } else if (key === 'u') {
      event.preventDefault();
      this.undo();
    }
  }
}
