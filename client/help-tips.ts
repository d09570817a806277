// Loaded on demand by help.ts: its CSS comes with it.
import './help-tips.css'

/** Adds the tips to the help card. */
export function showTips(card: HTMLElement): void {
  const tips = document.createElement('p')
  tips.className = 'help-tips'
  tips.textContent = 'Tip: ask the assistant about your rewards and milestones.'
  card.append(tips)
}
