// SPDX-License-Identifier: GPL-2.0
/*
 * Claims of the range defragmentation engine: the physical frames a request
 * has chosen for its pages, so that no other request chooses the same
 * frames and undoes the first one's moves before its pages are pinned.
 *
 * Data model: a claim is an interval of PFNs [pfn, pfn + nr), the frames
 * of one run of present pages of a segment (frames meant for pages not
 * populated are not claimed: nothing will move there). All claims live in
 * one interval tree keyed by PFN, under a spinlock. Every claim belongs to
 * the request that made it, on a singly linked list (struct
 * vma_defrag_claims); nothing else holds it.
 *
 * Claims never overlap: defrag_claim_add() refuses a run that overlaps one
 * already in the tree. That is the only step two requests must take in
 * turn; searching for a window needs no lock, and a request whose window
 * another one claimed first searches again.
 *
 * Lifetime: what a claim protects is the request's moves, and after them
 * its pages' places until the caller pins them; a pinned frame is blocked
 * for every request anyway. So a request drops its claims when it returns,
 * unless its caller asked for them (vma_defrag_request.claims): a driver
 * about to pin the range keeps them until it has, then calls
 * vma_defrag_unclaim(). Claims are advisory: they steer the window search,
 * they do not keep the allocator away from the frames (isolation and
 * pinning do that).
 */
#include <linux/interval_tree.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <kunit/visibility.h>

#include "vma_defrag_internal.h"

static DEFINE_SPINLOCK(claims_lock);
static struct rb_root_cached claims_tree = RB_ROOT_CACHED;

struct defrag_claim {
	struct interval_tree_node pfns;
	struct defrag_claim *next;	/* in its request's list */
};

/**
 * defrag_claim_add() - claim a run of frames
 * @pfn: first frame of the run
 * @nr: frames
 *
 * Return: the claim, the caller's until defrag_claim_drop() (or until it
 * is put on a list for vma_defrag_unclaim()); ERR_PTR(-EBUSY) if a frame
 * of the run is claimed already (another request got there first),
 * ERR_PTR(-ENOMEM).
 */
struct defrag_claim *defrag_claim_add(unsigned long pfn, unsigned long nr)
{
	struct defrag_claim *claim = kzalloc(sizeof(*claim),
					     GFP_KERNEL_ACCOUNT);

	if (!claim)
		return ERR_PTR(-ENOMEM);
	claim->pfns.start = pfn;
	claim->pfns.last = pfn + nr - 1;
	spin_lock(&claims_lock);
	if (interval_tree_iter_first(&claims_tree, claim->pfns.start,
				     claim->pfns.last)) {
		spin_unlock(&claims_lock);
		kfree(claim);
		return ERR_PTR(-EBUSY);
	}
	interval_tree_insert(&claim->pfns, &claims_tree);
	spin_unlock(&claims_lock);
	return claim;
}
EXPORT_SYMBOL_IF_KUNIT(defrag_claim_add);

/**
 * defrag_claim_drop() - end a claim
 * @claim: from defrag_claim_add()
 */
void defrag_claim_drop(struct defrag_claim *claim)
{
	spin_lock(&claims_lock);
	interval_tree_remove(&claim->pfns, &claims_tree);
	spin_unlock(&claims_lock);
	kfree(claim);
}
EXPORT_SYMBOL_IF_KUNIT(defrag_claim_drop);

/* Put @claim on @claims, the request's list */
void defrag_claims_push(struct vma_defrag_claims *claims,
			struct defrag_claim *claim)
{
	claim->next = claims->first;
	claims->first = claim;
}

/* Drop the claims pushed on @claims since its head was @mark */
void defrag_claims_drop_to(struct vma_defrag_claims *claims,
			   struct defrag_claim *mark)
{
	while (claims->first && claims->first != mark) {
		struct defrag_claim *claim = claims->first;

		claims->first = claim->next;
		defrag_claim_drop(claim);
	}
}

/* Move every claim of @from onto @to */
void defrag_claims_splice(struct vma_defrag_claims *to,
			  struct vma_defrag_claims *from)
{
	while (from->first) {
		struct defrag_claim *claim = from->first;

		from->first = claim->next;
		defrag_claims_push(to, claim);
	}
}

/**
 * vma_defrag_unclaim() - drop the claims a request handed over
 * @claims: filled in by vma_defrag_range() through
 *	vma_defrag_request.claims; empty afterwards (a zeroed struct is an
 *	empty one)
 *
 * A driver calls this once it has pinned the range it asked for (or gave
 * up): from then on the pins keep other requests off the frames.
 *
 * Context: any context that may take a spinlock.
 */
void vma_defrag_unclaim(struct vma_defrag_claims *claims)
{
	defrag_claims_drop_to(claims, NULL);
}
EXPORT_SYMBOL_GPL(vma_defrag_unclaim);

/**
 * vma_defrag_claimed() - is any frame of a PFN range claimed?
 * @pfn: first frame
 * @nr: frames
 *
 * Return: true if a request's claim overlaps [@pfn, @pfn + @nr).
 */
bool vma_defrag_claimed(unsigned long pfn, unsigned long nr)
{
	bool ret;

	spin_lock(&claims_lock);
	ret = interval_tree_iter_first(&claims_tree, pfn, pfn + nr - 1);
	spin_unlock(&claims_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(vma_defrag_claimed);

/**
 * defrag_claims_block() - mark claimed frames of a snapshot blocked
 * @frames: the snapshot; its @blocked bitmap gets the claimed frames
 *
 * Claimed frames are blocked for every request, the one that claimed them
 * too: a request never anchors two segments on the same frames.
 */
void defrag_claims_block(struct vma_defrag_frames *frames)
{
	unsigned long last = frames->base + frames->nr - 1;
	struct interval_tree_node *it;

	spin_lock(&claims_lock);
	for (it = interval_tree_iter_first(&claims_tree, frames->base, last);
	     it; it = interval_tree_iter_next(it, frames->base, last)) {
		unsigned long s = max(it->start, frames->base);
		unsigned long e = min(it->last, last);

		bitmap_set(frames->blocked, s - frames->base, e - s + 1);
	}
	spin_unlock(&claims_lock);
}
