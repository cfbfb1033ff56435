//! The immutable, query-ready form of the public catalog.
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use shop_db::catalog::{CatalogRows, ListingRows};
use shop_db::entities::{chapter, course, section, teacher};
use shop_domain::Money;
use shop_domain::catalog::{CourseStatus, CourseType, Level, SectionType, TeacherRole};
use shop_domain::paging::PageRequest;
use shop_domain::search::{self, SearchTerm};

use super::index::{GramIndex, SuffixIndex};
use crate::error::{AppError, AppResult};

/// How many first sections a course card shows.
pub const CARD_SECTIONS: usize = 4;

/// A category.
#[derive(Debug, Clone)]
pub struct CategoryView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
}

/// A banner.
#[derive(Debug, Clone)]
pub struct BannerView {
    /// Title.
    pub title: String,
    /// Image path or URL.
    pub image: String,
    /// Where a click goes.
    pub link: String,
}

/// A teacher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeacherView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Role.
    pub role: TeacherRole,
    /// Title.
    pub title: String,
    /// Signature line.
    pub signature: String,
    /// Image path or URL.
    pub image: String,
    /// Introduction.
    pub brief: String,
}

/// One of the first sections shown on a course card.
#[derive(Debug, Clone)]
pub struct SectionBrief {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Media key of the section.
    pub section_link: String,
    /// `mm:ss`.
    pub duration: String,
    /// Watchable without buying.
    pub free_trail: bool,
}

/// A course with everything its card and detail page show.
#[derive(Debug, Clone)]
pub struct CourseView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Kind of course.
    pub course_type: CourseType,
    /// Category, if any.
    pub category_id: Option<i64>,
    /// Cover path or URL.
    pub course_img: String,
    /// HTML introduction.
    pub brief: String,
    /// Difficulty.
    pub level: Level,
    /// Publication status.
    pub status: CourseStatus,
    /// Price.
    pub price: Money,
    /// Days of access after purchase (0 = forever).
    pub period: i32,
    /// Downloadable material path.
    pub attachment_path: String,
    /// Learners.
    pub students: i32,
    /// Sections published so far.
    pub pub_sections: i32,
    /// Sections in total.
    pub sections: i32,
    /// Display priority.
    pub orders: i32,
    /// The teacher.
    pub teacher: Arc<TeacherView>,
    /// Up to [`CARD_SECTIONS`] first sections.
    pub section_list: Vec<SectionBrief>,
}

/// A section in a chapter.
#[derive(Debug, Clone)]
pub struct SectionView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Display priority.
    pub orders: i32,
    /// Kind.
    pub section_type: SectionType,
    /// Media key.
    pub section_link: String,
    /// `mm:ss`.
    pub duration: String,
    /// Publication time.
    pub pub_date: DateTime<Utc>,
    /// Watchable without buying.
    pub free_trail: bool,
    /// The chapter's id.
    pub chapter: i64,
}

/// A chapter with its sections.
#[derive(Debug, Clone)]
pub struct ChapterView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Chapter number.
    pub chapter: i32,
    /// Summary.
    pub summary: String,
    /// Sections, by `orders`.
    pub coursesections: Vec<SectionView>,
}

/// How a course list is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordering {
    /// Display priority (default).
    Orders,
    /// Fewest learners first.
    Students,
    /// Most learners first.
    StudentsDesc,
    /// Cheapest first.
    Price,
    /// Dearest first.
    PriceDesc,
}

impl Ordering {
    /// Every `ordering` query value and what it means (empty: the default); the published
    /// API spec lists the same values.
    pub const VALUES: [(&str, Ordering); 6] = [
        ("", Ordering::Orders),
        ("orders", Ordering::Orders),
        ("students", Ordering::Students),
        ("-students", Ordering::StudentsDesc),
        ("price", Ordering::Price),
        ("-price", Ordering::PriceDesc),
    ];

    /// Parses the `ordering` query value (`orders`, `students`, `-students`, `price`, `-price`).
    pub fn parse(text: &str) -> Option<Self> {
        Self::VALUES.iter().find(|(name, _)| *name == text).map(|(_, ordering)| *ordering)
    }

    /// What a list sorted this way is sorted by, ascending (ties keep display order); `None`
    /// for display order itself. Money is never negative and learner counts fit in `i32`,
    /// so the negations cannot overflow.
    fn key(self, course: &CourseView) -> Option<i64> {
        Some(match self {
            Ordering::Orders => return None,
            Ordering::Students => i64::from(course.students),
            Ordering::StudentsDesc => -i64::from(course.students),
            Ordering::Price => course.price.fen(),
            Ordering::PriceDesc => -course.price.fen(),
        })
    }
}

/// One page of results.
#[derive(Debug)]
pub struct Page<T> {
    /// Items matching in total.
    pub count: u64,
    /// This page's items.
    pub items: Vec<T>,
    /// The request that produced it.
    pub request: PageRequest,
}

impl<T> Page<T> {
    /// Whether a page follows.
    pub fn has_next(&self) -> bool {
        self.request.has_next(self.count)
    }

    /// Whether a page precedes.
    pub fn has_previous(&self) -> bool {
        self.request.page() > 1
    }
}

/// The public catalog at one revision.
#[derive(Debug, Default)]
pub struct Snapshot {
    revision: i64,
    categories: Vec<CategoryView>,
    banners: Vec<BannerView>,
    /// The public teachers by id (an update reuses those that did not change).
    teachers: HashMap<i64, Arc<TeacherView>>,
    /// Public courses by display priority, then id.
    courses: Vec<Arc<CourseView>>,
    /// What depends on the courses' positions, names, prices and teachers; shared with the
    /// next snapshot when an update changes none of them (learner counts, briefs, covers).
    placed: Arc<Placed>,
    /// The course lists' orders and category sizes, made when a list first needs them.
    sorted: Sorted,
}

/// The positions of a snapshot's courses in each list order other than display order, and
/// the number of courses of each category: made by the first list request that needs them
/// and kept for the snapshot's life (a new snapshot, made by any change of the courses or
/// their learner counts, starts without them), so that a list page costs its page, not a
/// sort of the catalog.
#[derive(Debug, Default)]
struct Sorted {
    /// By [`Ordering`] (its position in `Ordering::SORTED`).
    positions: [OnceLock<Box<[u32]>>; 4],
    per_category: OnceLock<HashMap<i64, usize>>,
}

impl Ordering {
    /// The orderings a list sorts by something other than display order.
    const SORTED: [Ordering; 4] =
        [Ordering::Students, Ordering::StudentsDesc, Ordering::Price, Ordering::PriceDesc];
}

/// The indexes of a snapshot's courses by position (their place in `Snapshot::courses`).
#[derive(Debug, Default)]
struct Placed {
    /// The price of each course, aligned with `courses`.
    prices: Vec<Money>,
    by_id: HashMap<i64, usize>,
    /// The occurrences of a term in the folded course names.
    names: Names,
    /// Search candidates by teacher name: positions in `teacher_courses`.
    teacher_names: GramIndex,
    /// The folded name of each teacher of `teacher_courses`.
    teacher_folded: Vec<String>,
    /// The positions in `courses` of each teacher's courses, ascending.
    teacher_courses: Vec<Vec<u32>>,
    /// The positions in `courses` of the courses of each price, ascending.
    by_price: HashMap<Money, Vec<u32>>,
}

/// Marks, in [`Names::position`], the slot of a name no course has any more.
const GONE: u32 = u32::MAX;

/// The index of the folded course names, by slot rather than by position, so that an update
/// re-indexes only the names it adds: the base index (slots `0..base_slots`, made by a full
/// build) is shared by the snapshots that follow; the names added since (new courses,
/// renamed ones) are in a small recent index (the next slots), rebuilt at each update; each
/// slot maps to its course's position (or [`GONE`]). When the recent names pass
/// [`recent_limit`], an update builds the base again from every name.
#[derive(Debug, Default)]
struct Names {
    base: Arc<SuffixIndex>,
    base_slots: usize,
    recent: SuffixIndex,
    /// The position of the course of each slot, or [`GONE`].
    position: Vec<u32>,
    /// The slot of each position's name.
    slot: Vec<u32>,
}

/// Past this many recent names (see [`Names`]), an update rebuilds the whole name index.
fn recent_limit(courses: usize) -> usize {
    (courses / 16).max(4_096)
}

impl Names {
    /// Indexes every name afresh.
    fn build(courses: &[Arc<CourseView>]) -> Self {
        let folded: Vec<String> = courses.iter().map(|c| search::fold(&c.name)).collect();
        let base = SuffixIndex::build(folded.iter().map(String::as_str));
        let slots: Vec<u32> = (0..u32::try_from(courses.len()).expect("fewer than 2^32 courses")).collect();
        Names {
            base: Arc::new(base),
            base_slots: courses.len(),
            recent: SuffixIndex::default(),
            position: slots.clone(),
            slot: slots,
        }
    }

    /// The index of `courses`, where `from[p]` is the position in the snapshot this index
    /// belongs to of the course now at `p`, when its name is the same (`None`: a new name).
    /// The base is kept; the recent index holds the names added since it was built.
    fn update(&self, courses: &[Arc<CourseView>], from: &[Option<u32>]) -> Self {
        let mut position = vec![GONE; self.base_slots];
        let mut slot = Vec::with_capacity(courses.len());
        let mut recent = Vec::new();
        for (p, (course, old)) in (0u32..).zip(courses.iter().zip(from)) {
            let kept = old.map(|o| self.slot[o as usize]).filter(|s| (*s as usize) < self.base_slots);
            let s = match kept {
                Some(s) => {
                    position[s as usize] = p;
                    s
                }
                None => {
                    recent.push(search::fold(&course.name));
                    position.push(p);
                    u32::try_from(position.len() - 1).expect("fewer than 2^32 names")
                }
            };
            slot.push(s);
        }
        Names {
            base: Arc::clone(&self.base),
            base_slots: self.base_slots,
            recent: SuffixIndex::build(recent.iter().map(String::as_str)),
            position,
            slot,
        }
    }

    /// Names indexed since the base was built.
    fn recent_len(&self) -> usize {
        self.position.len() - self.base_slots
    }

    /// Bytes held (the base, shared, counted whole).
    fn heap_bytes(&self) -> usize {
        self.base.heap_bytes()
            + self.recent.heap_bytes()
            + 4 * (self.position.capacity() + self.slot.capacity())
    }

    /// Calls `found` with the position and the class of every occurrence of `term` (folded,
    /// non-empty) in the names of the courses, in no particular order.
    fn occurrences(&self, term: &str, mut found: impl FnMut(u32, search::MatchClass)) {
        self.base.occurrences(term, |s, class| {
            let p = self.position[s as usize];
            if p != GONE {
                found(p, class);
            }
        });
        self.recent.occurrences(term, |s, class| found(self.position[self.base_slots + s as usize], class));
    }
}

/// The groups of search hits in rank order: how the term matched and where (0 the course
/// name, 1 the teacher's name, 2 the price), as in [`search::rank_course`]'s key; within a
/// group, hits follow display priority then id, the order of `Snapshot::courses`.
const GROUPS: [(search::MatchClass, u8); 7] = {
    use search::MatchClass::{Exact, Prefix, Substring};
    [(Exact, 0), (Exact, 1), (Exact, 2), (Prefix, 0), (Prefix, 1), (Substring, 0), (Substring, 1)]
};

/// The place in [`GROUPS`] of a match of `class` by `source`.
fn group(class: search::MatchClass, source: u8) -> usize {
    GROUPS.iter().position(|g| *g == (class, source)).expect("every class of names and exact prices")
}

/// One bit per course position.
struct Bits<'a>(&'a mut [u64]);

impl Bits<'_> {
    fn set(&mut self, position: u32) {
        self.0[position as usize / 64] |= 1 << (position % 64);
    }
}

/// The start and end in a list of `len` items of the page `request`.
fn bounds(len: usize, request: PageRequest) -> AppResult<(usize, usize)> {
    if !request.exists_for(len as u64) {
        return Err(AppError::NotFound("page"));
    }
    let start = usize::try_from(request.offset()).unwrap_or(usize::MAX).min(len);
    let end = start.saturating_add(usize::try_from(request.size()).unwrap_or(usize::MAX)).min(len);
    Ok((start, end))
}

fn page_of<T: Clone>(all: &[T], request: PageRequest) -> AppResult<Page<T>> {
    let (start, end) = bounds(all.len(), request)?;
    Ok(Page { count: all.len() as u64, items: all[start..end].to_vec(), request })
}

/// The public chapters of a course with their sections, as [`shop_db::catalog::public_chapters`]
/// reads them.
pub fn chapter_views(rows: Vec<(chapter::Model, Vec<section::Model>)>) -> Vec<ChapterView> {
    rows.into_iter()
        .map(|(c, sections)| ChapterView {
            id: c.id,
            name: c.name,
            chapter: c.chapter,
            summary: c.summary,
            coursesections: sections
                .into_iter()
                .map(|s| SectionView {
                    id: s.id,
                    name: s.name,
                    orders: s.orders,
                    section_type: SectionType::try_from(s.section_type).unwrap_or(SectionType::Video),
                    section_link: s.section_link,
                    duration: s.duration,
                    pub_date: s.pub_date,
                    free_trail: s.free_trail,
                    chapter: s.chapter_id,
                })
                .collect(),
        })
        .collect()
}

/// The views of the shown categories and banners, in the rows' order.
fn small_views(rows: &CatalogRows) -> (Vec<CategoryView>, Vec<BannerView>) {
    let categories = rows
        .categories
        .iter()
        .filter(|c| c.is_show)
        .map(|c| CategoryView { id: c.id, name: c.name.clone() })
        .collect();
    let banners = rows
        .banners
        .iter()
        .filter(|b| b.is_show && !b.image.is_empty())
        .map(|b| BannerView { title: b.title.clone(), image: b.image.clone(), link: b.link.clone() })
        .collect();
    (categories, banners)
}

/// The shown teachers by id; a view equal to one of `before` is that one (shared).
fn teacher_views(
    rows: &[teacher::Model],
    before: &HashMap<i64, Arc<TeacherView>>,
) -> HashMap<i64, Arc<TeacherView>> {
    rows.iter()
        .filter(|t| t.is_show)
        .map(|t| {
            let view = TeacherView {
                id: t.id,
                name: t.name.clone(),
                role: TeacherRole::try_from(t.role).unwrap_or(TeacherRole::Lecturer),
                title: t.title.clone(),
                signature: t.signature.clone(),
                image: t.image.clone(),
                brief: t.brief.clone(),
            };
            match before.get(&t.id) {
                Some(old) if **old == view => (t.id, Arc::clone(old)),
                _ => (t.id, Arc::new(view)),
            }
        })
        .collect()
}

/// The public view of a course row: `None` when it is hidden or its teacher is not public.
fn course_view(
    c: &course::Model,
    teachers: &HashMap<i64, Arc<TeacherView>>,
    first_sections: &mut HashMap<i64, Vec<section::Model>>,
) -> Option<Arc<CourseView>> {
    let teacher = teachers.get(&c.teacher_id).filter(|_| c.is_show)?;
    let section_list = first_sections
        .remove(&c.id)
        .unwrap_or_default()
        .into_iter()
        .take(CARD_SECTIONS)
        .map(|s| SectionBrief {
            id: s.id,
            name: s.name,
            section_link: s.section_link,
            duration: s.duration,
            free_trail: s.free_trail,
        })
        .collect();
    Some(Arc::new(CourseView {
        id: c.id,
        name: c.name.clone(),
        course_type: CourseType::try_from(c.course_type).unwrap_or(CourseType::ActualCombat),
        category_id: c.course_category_id,
        course_img: c.course_img.clone(),
        brief: c.brief.clone(),
        level: Level::try_from(c.level).unwrap_or(Level::Beginner),
        status: CourseStatus::try_from(c.status).unwrap_or(CourseStatus::Online),
        price: c.price_fen,
        period: c.period,
        attachment_path: c.attachment_path.clone(),
        students: c.students,
        pub_sections: c.pub_sections,
        sections: c.sections,
        orders: c.orders,
        teacher: Arc::clone(teacher),
        section_list,
    }))
}

impl Placed {
    /// The indexes of `courses` (in display order) with their name index.
    fn new(courses: &[Arc<CourseView>], names: Names) -> Self {
        let mut prices = Vec::with_capacity(courses.len());
        let mut by_id = HashMap::with_capacity(courses.len());
        let mut teacher_place: HashMap<i64, usize> = HashMap::new();
        let mut teacher_folded: Vec<String> = Vec::new();
        let mut teacher_courses: Vec<Vec<u32>> = Vec::new();
        let mut by_price: HashMap<Money, Vec<u32>> = HashMap::new();
        for (position, course) in (0u32..).zip(courses) {
            let teacher = &course.teacher;
            let place = *teacher_place.entry(teacher.id).or_insert_with(|| {
                teacher_folded.push(search::fold(&teacher.name));
                teacher_courses.push(Vec::new());
                teacher_courses.len() - 1
            });
            teacher_courses[place].push(position);
            by_price.entry(course.price).or_default().push(position);
            by_id.insert(course.id, position as usize);
            prices.push(course.price);
        }
        let teacher_names = GramIndex::build(teacher_folded.iter().map(String::as_str));
        Placed { prices, by_id, names, teacher_names, teacher_folded, teacher_courses, by_price }
    }
}

impl Snapshot {
    /// Builds the public view of the rows: shown, not deleted, with references resolved.
    /// A course whose teacher is hidden or missing is left out. The rows' chapters and
    /// sections are not used: a course's first sections come in `first_sections`, and the
    /// chapters are read per course ([`super::chapters`]).
    pub fn build(revision: i64, rows: ListingRows, _now: DateTime<Utc>) -> Self {
        let ListingRows { rows, mut first_sections } = rows;
        let (categories, banners) = small_views(&rows);
        let teachers = teacher_views(&rows.teachers, &HashMap::new());
        let courses: Vec<Arc<CourseView>> =
            rows.courses.iter().filter_map(|c| course_view(c, &teachers, &mut first_sections)).collect();
        assert!(u32::try_from(courses.len()).is_ok_and(|n| n < GONE), "fewer than 2^32 - 1 courses");
        let names = Names::build(&courses);
        let placed = Arc::new(Placed::new(&courses, names));
        Snapshot { revision, categories, banners, teachers, courses, placed, sorted: Sorted::default() }
    }

    /// This snapshot updated to `revision` with what changed since (`rows`, read by
    /// [`shop_db::catalog::load_changes`]: categories, teachers and banners whole, and the
    /// rows of the courses `changed` that still exist): equal, search for search and list for
    /// list, to a snapshot built from every row at `revision` (the differential test below).
    /// Only the names added are indexed (see [`Names`]); the rest is shared or copied.
    pub fn update(&self, revision: i64, rows: ListingRows, changed: &[i64]) -> Self {
        self.update_with(revision, rows, changed, recent_limit(self.courses.len()))
    }

    fn update_with(&self, revision: i64, rows: ListingRows, changed: &[i64], recent_limit: usize) -> Self {
        let ListingRows { rows, mut first_sections } = rows;
        let (categories, banners) = small_views(&rows);
        let teachers = teacher_views(&rows.teachers, &self.teachers);
        let changed: HashSet<i64> = changed.iter().copied().collect();
        let mut fresh: Vec<Arc<CourseView>> = rows
            .courses
            .iter()
            .filter(|c| changed.contains(&c.id))
            .filter_map(|c| course_view(c, &teachers, &mut first_sections))
            .collect();
        fresh.sort_unstable_by_key(|c| (c.orders, c.id));
        // The courses that did not change, with their teacher's current view (its courses
        // are among those changed when it was hidden or shown; when only its view changed,
        // they are kept with the new one).
        let kept =
            (0u32..).zip(&self.courses).filter(|(_, c)| !changed.contains(&c.id)).filter_map(|(p, c)| {
                let teacher = teachers.get(&c.teacher.id)?;
                if Arc::ptr_eq(teacher, &c.teacher) {
                    Some((p, Arc::clone(c)))
                } else {
                    Some((p, Arc::new(CourseView { teacher: Arc::clone(teacher), ..CourseView::clone(c) })))
                }
            });
        // Both in display order: merged, each with its former position when its name is
        // the same.
        let mut courses = Vec::with_capacity(self.courses.len() + fresh.len());
        let mut from = Vec::with_capacity(self.courses.len() + fresh.len());
        let mut fresh = fresh.into_iter().peekable();
        let same_name = |c: &CourseView| {
            let p = *self.placed.by_id.get(&c.id)?;
            (self.courses[p].name == c.name).then_some(p as u32)
        };
        for (p, course) in kept {
            while let Some(f) = fresh.next_if(|f| (f.orders, f.id) < (course.orders, course.id)) {
                from.push(same_name(&f));
                courses.push(f);
            }
            from.push(Some(p));
            courses.push(course);
        }
        for f in fresh {
            from.push(same_name(&f));
            courses.push(f);
        }
        assert!(u32::try_from(courses.len()).is_ok_and(|n| n < GONE), "fewer than 2^32 - 1 courses");
        let unmoved = courses.len() == self.courses.len()
            && (0u32..).zip(&from).all(|(p, f)| *f == Some(p))
            && courses
                .iter()
                .zip(&self.courses)
                .all(|(a, b)| a.price == b.price && Arc::ptr_eq(&a.teacher, &b.teacher));
        let placed = if unmoved {
            Arc::clone(&self.placed)
        } else {
            let names = self.placed.names.update(&courses, &from);
            let names = if names.recent_len() > recent_limit { Names::build(&courses) } else { names };
            Arc::new(Placed::new(&courses, names))
        };
        Snapshot { revision, categories, banners, teachers, courses, placed, sorted: Sorted::default() }
    }

    /// This snapshot with the learner counts `counts` (course id, learners), when one of
    /// its courses has another count: learner counts change with every payment, without a
    /// catalog write, and take no index.
    pub fn with_learners(&self, counts: &[(i64, i32)]) -> Option<Self> {
        let mut courses: Option<Vec<Arc<CourseView>>> = None;
        for (id, students) in counts {
            let Some(&p) = self.placed.by_id.get(id) else { continue };
            if self.courses[p].students != *students {
                let courses = courses.get_or_insert_with(|| self.courses.clone());
                courses[p] =
                    Arc::new(CourseView { students: *students, ..CourseView::clone(&self.courses[p]) });
            }
        }
        Some(Snapshot {
            revision: self.revision,
            categories: self.categories.clone(),
            banners: self.banners.clone(),
            teachers: self.teachers.clone(),
            courses: courses?,
            placed: Arc::clone(&self.placed),
            sorted: Sorted::default(),
        })
    }

    /// The database revision this snapshot was built from.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Number of public courses.
    pub fn course_count(&self) -> usize {
        self.courses.len()
    }

    /// Bytes held by the index of the course names.
    pub fn name_index_bytes(&self) -> usize {
        self.placed.names.heap_bytes()
    }

    /// Course names indexed by updates since the name index was last built whole (see
    /// `docs/search.md`, "Freshness"); 0 after a full load.
    pub fn recent_names(&self) -> usize {
        self.placed.names.recent_len()
    }

    /// Public categories by display priority.
    pub fn categories(&self) -> &[CategoryView] {
        &self.categories
    }

    /// The first `n` public banners by display priority.
    pub fn banners(&self, n: usize) -> &[BannerView] {
        &self.banners[..n.min(self.banners.len())]
    }

    /// A public course.
    pub fn course(&self, id: i64) -> Option<&Arc<CourseView>> {
        self.placed.by_id.get(&id).map(|&i| &self.courses[i])
    }

    /// A page of public courses, optionally of one category, sorted by `ordering` (ties by
    /// display priority, then id).
    ///
    /// # Errors
    /// `NotFound("page")` past the last page.
    pub fn list(
        &self,
        category: Option<i64>,
        ordering: Ordering,
        request: PageRequest,
    ) -> AppResult<Page<Arc<CourseView>>> {
        let sorted = self.positions(ordering);
        let at = |i: usize| sorted.map_or(i, |positions| positions[i] as usize);
        let Some(id) = category else {
            let (start, end) = bounds(self.courses.len(), request)?;
            let items = (start..end).map(|i| Arc::clone(&self.courses[at(i)])).collect();
            return Ok(Page { count: self.courses.len() as u64, items, request });
        };
        let count = self.category_sizes().get(&id).copied().unwrap_or(0);
        let (start, end) = bounds(count, request)?;
        let items = (0..self.courses.len())
            .map(|i| &self.courses[at(i)])
            .filter(|c| c.category_id == Some(id))
            .skip(start)
            .take(end - start)
            .map(Arc::clone)
            .collect();
        Ok(Page { count: count as u64, items, request })
    }

    /// The positions of the courses in `ordering`'s order (`None`: display order, the order
    /// of `courses`): a stable sort by [`Ordering::key`], made once per snapshot.
    fn positions(&self, ordering: Ordering) -> Option<&[u32]> {
        let slot = Ordering::SORTED.iter().position(|o| *o == ordering)?;
        let positions = self.sorted.positions[slot].get_or_init(|| {
            let mut positions: Vec<u32> = (0..self.courses.len() as u32).collect();
            positions.sort_by_cached_key(|&p| ordering.key(&self.courses[p as usize]));
            positions.into_boxed_slice()
        });
        Some(positions)
    }

    /// The number of public courses of each category.
    fn category_sizes(&self) -> &HashMap<i64, usize> {
        self.sorted.per_category.get_or_init(|| {
            let mut sizes = HashMap::new();
            for id in self.courses.iter().filter_map(|c| c.category_id) {
                *sizes.entry(id).or_default() += 1;
            }
            sizes
        })
    }

    /// Searches course and teacher names, and prices when the term is one (see
    /// [`shop_domain::search`] for the ranking),
    /// across every course type, optionally within a price range (inclusive).
    ///
    /// # Errors
    /// `NotFound("page")` past the last page.
    pub fn search(
        &self,
        term: Option<&SearchTerm>,
        min_price: Option<Money>,
        max_price: Option<Money>,
        request: PageRequest,
    ) -> AppResult<Page<Arc<CourseView>>> {
        let in_range = |price: Money| {
            min_price.is_none_or(|min| price >= min) && max_price.is_none_or(|max| price <= max)
        };
        let Some(term) = term else {
            // Every course in range, in display order: the order of `courses`.
            if min_price.is_none() && max_price.is_none() {
                return page_of(&self.courses, request);
            }
            let count = self.placed.prices.iter().filter(|p| in_range(**p)).count();
            let (start, end) = bounds(count, request)?;
            let items = (self.placed.prices.iter().zip(&self.courses))
                .filter(|(p, _)| in_range(**p))
                .skip(start)
                .take(end - start)
                .map(|(_, c)| Arc::clone(c))
                .collect();
            return Ok(Page { count: count as u64, items, request });
        };
        // One bitset of course positions per group of GROUPS, and one of the matches out of
        // the price range: the cost is a few bit operations per match and per 64 courses.
        let words = self.courses.len().div_ceil(64).max(1);
        let mut bits = vec![0u64; words * (GROUPS.len() + 1)];
        let (sets, outside) = bits.split_at_mut(words * GROUPS.len());
        let mut sets: Vec<Bits<'_>> = sets.chunks_mut(words).map(Bits).collect();
        let placed = &*self.placed;
        placed.names.occurrences(term.as_str(), |position, class| sets[group(class, 0)].set(position));
        for &place in placed.teacher_names.candidates(term.as_str()) {
            if let Some(class) = term.match_folded(&placed.teacher_folded[place as usize]) {
                let set = &mut sets[group(class, 1)];
                placed.teacher_courses[place as usize].iter().for_each(|&p| set.set(p));
            }
        }
        if let Some(list) = term.price().and_then(|price| placed.by_price.get(&price)) {
            let set = &mut sets[group(search::MatchClass::Exact, 2)];
            list.iter().for_each(|&p| set.set(p));
        }
        if min_price.is_some() || max_price.is_some() {
            for (w, out) in outside.iter_mut().enumerate() {
                let mut any = sets.iter().fold(0, |any, set| any | set.0[w]);
                while any != 0 {
                    let bit = any.trailing_zeros();
                    any &= any - 1;
                    if !in_range(placed.prices[w * 64 + bit as usize]) {
                        *out |= 1 << bit;
                    }
                }
            }
        }
        // A course belongs to its best group only: that of its rank key.
        let mut count = 0;
        for (w, out) in outside.iter().enumerate() {
            let mut taken = *out;
            for set in &mut sets {
                let word = set.0[w];
                set.0[w] = word & !taken;
                taken |= word;
                count += set.0[w].count_ones() as usize;
            }
        }
        let (start, end) = bounds(count, request)?;
        let mut skip = start;
        let mut items = Vec::with_capacity(end - start);
        'groups: for (g, set) in sets.iter().enumerate().filter(|_| end > start) {
            for (w, &word) in set.0.iter().enumerate() {
                let ones = word.count_ones() as usize;
                if skip >= ones {
                    skip -= ones;
                    continue;
                }
                let mut word = word;
                while word != 0 {
                    let bit = word.trailing_zeros() as usize;
                    word &= word - 1;
                    if skip > 0 {
                        skip -= 1;
                        continue;
                    }
                    let course = &self.courses[w * 64 + bit];
                    debug_assert_eq!(
                        search::rank_course(
                            term,
                            &search::fold(&course.name),
                            &search::fold(&course.teacher.name),
                            course.price,
                            course.orders,
                            course.id
                        )
                        .map(|key| (key.0, key.1)),
                        Some(GROUPS[g]),
                        "the index places a course as the rule does"
                    );
                    items.push(Arc::clone(course));
                    if items.len() == end - start {
                        break 'groups;
                    }
                }
            }
        }
        Ok(Page { count: count as u64, items, request })
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// The search of before the index: every course checked by the rule, then one full sort.
    /// The oracle of the differential test below.
    fn full_scan(
        snapshot: &Snapshot,
        term: Option<&SearchTerm>,
        min_price: Option<Money>,
        max_price: Option<Money>,
        request: PageRequest,
    ) -> AppResult<(u64, Vec<i64>)> {
        let mut hits: Vec<((search::MatchClass, u8, i32, i64), i64)> = snapshot
            .courses
            .iter()
            .filter(|c| {
                min_price.is_none_or(|min| c.price >= min) && max_price.is_none_or(|max| c.price <= max)
            })
            .filter_map(|c| match term {
                None => Some(((search::MatchClass::Exact, 0u8, c.orders, c.id), c.id)),
                Some(t) => {
                    let (name, teacher) = (search::fold(&c.name), search::fold(&c.teacher.name));
                    search::rank_course(t, &name, &teacher, c.price, c.orders, c.id).map(|key| (key, c.id))
                }
            })
            .collect();
        hits.sort_unstable();
        let ids: Vec<i64> = hits.into_iter().map(|(_, id)| id).collect();
        let page = page_of(&ids, request)?;
        Ok((page.count, page.items))
    }

    const ALPHABET: &[char] = &['a', 'b', 'A', 'B', ' ', ' ', '中', '文', '9', '.', '元', '¥', 'İ', 'Σ', 'σ'];
    const PRICES: &[i64] = &[0, 990, 9_900, 9_990, 10_000];

    fn text(rng: &mut StdRng, max: usize) -> String {
        let len = rng.gen_range(0..=max);
        (0..len).map(|_| *ALPHABET.choose(rng).expect("non-empty")).collect()
    }

    fn teacher_row(rng: &mut StdRng, id: i64) -> teacher::Model {
        let now = Utc::now();
        teacher::Model {
            id,
            name: text(rng, 5),
            role: 0,
            title: String::new(),
            signature: String::new(),
            image: String::new(),
            brief: String::new(),
            orders: 0,
            is_show: rng.gen_bool(0.9),
            is_delete: false,
            created_time: now,
            updated_time: now,
        }
    }

    fn course_name(rng: &mut StdRng, teachers: &[teacher::Model]) -> String {
        match rng.gen_range(0..6) {
            // Long names.
            0 => text(rng, 30),
            // A piece twice.
            1 => {
                let piece = text(rng, 3);
                format!("{piece}{}{piece}", text(rng, 2))
            }
            // A teacher's name, whole or within.
            2 => {
                let teacher = &teachers[rng.gen_range(0..teachers.len())].name;
                if rng.gen_bool(0.5) { teacher.clone() } else { format!("{}{teacher}", text(rng, 2)) }
            }
            _ => text(rng, 8),
        }
    }

    fn price(rng: &mut StdRng) -> Money {
        Money::from_fen(*PRICES.choose(rng).expect("non-empty")).expect("in range")
    }

    fn course_row(rng: &mut StdRng, id: i64, teachers: &[teacher::Model]) -> course::Model {
        let now = Utc::now();
        course::Model {
            id,
            name: course_name(rng, teachers),
            course_type: 1,
            course_category_id: None,
            teacher_id: rng.gen_range(1..=teachers.len() as i64 + 1),
            course_img: String::new(),
            brief: String::new(),
            level: 0,
            status: 0,
            price_fen: price(rng),
            period: 0,
            attachment_path: String::new(),
            students: 0,
            pub_sections: 0,
            sections: 0,
            orders: rng.gen_range(0..10),
            is_show: rng.gen_bool(0.9),
            is_delete: false,
            created_time: now,
            updated_time: now,
        }
    }

    /// Teachers and courses; mostly small catalogs, some of several hundred courses
    /// (several words of bits).
    fn catalog_rows(rng: &mut StdRng) -> (Vec<teacher::Model>, Vec<course::Model>) {
        let teachers: Vec<teacher::Model> =
            (1..=rng.gen_range(1..6)).map(|id| teacher_row(rng, id)).collect();
        let size = if rng.gen_bool(0.1) { 700 } else { 80 };
        let courses = (1..=rng.gen_range(0..size)).map(|id| course_row(rng, id, &teachers)).collect();
        (teachers, courses)
    }

    /// A snapshot built from every row, as a full load does.
    fn built(revision: i64, teachers: &[teacher::Model], courses: &[course::Model]) -> Snapshot {
        let mut courses = courses.to_vec();
        // As the database reads them: by display priority, then id.
        courses.sort_by_key(|c| (c.orders, c.id));
        let rows = CatalogRows { teachers: teachers.to_vec(), courses, ..CatalogRows::default() };
        Snapshot::build(revision, ListingRows { rows, first_sections: HashMap::new() }, Utc::now())
    }

    fn catalog(rng: &mut StdRng) -> Snapshot {
        let (teachers, courses) = catalog_rows(rng);
        built(1, &teachers, &courses)
    }

    fn term(rng: &mut StdRng, snapshot: &Snapshot) -> String {
        let names: Vec<&str> =
            snapshot.courses.iter().flat_map(|c| [c.name.as_str(), c.teacher.name.as_str()]).collect();
        match rng.gen_range(0..5) {
            0 => text(rng, 4),
            // A whole name.
            4 => names.choose(rng).map_or_else(String::new, |n| n.to_string()),
            1 => ["99", "9.9", "¥99", "99元", "0", "100", "99.90", "¥ 9.90 元"]
                .choose(rng)
                .expect("non-empty")
                .to_string(),
            _ => {
                // A piece of a name, sometimes in another case.
                let name: Vec<char> = names.choose(rng).map_or_else(Vec::new, |n| n.chars().collect());
                let start = rng.gen_range(0..=name.len());
                let end = rng.gen_range(start..=name.len());
                let piece: String = name[start..end].iter().collect();
                if rng.gen_bool(0.3) { piece.to_uppercase() } else { piece }
            }
        }
    }

    /// The index finds exactly what the full scan found, ranked the same, on every page, on
    /// generated catalogs whose names mix cases, spaces, Chinese, characters whose lower case
    /// is longer, and prices.
    #[test]
    fn the_index_answers_as_the_full_scan_did() {
        let mut rng = StdRng::seed_from_u64(20_261_130);
        let mut compared = 0;
        let mut nonempty = 0;
        for _ in 0..300 {
            let snapshot = catalog(&mut rng);
            for _ in 0..40 {
                let raw = term(&mut rng, &snapshot);
                let term = SearchTerm::parse(&raw, SearchTerm::MAX_CHARS).expect("short");
                let price = |rng: &mut StdRng| {
                    rng.gen_bool(0.2)
                        .then(|| Money::from_fen(*PRICES.choose(rng).expect("p")).expect("in range"))
                };
                let (min, max) = (price(&mut rng), price(&mut rng));
                let page = rng.gen_range(1..4).to_string();
                let size = rng.gen_range(1..6).to_string();
                let request = PageRequest::parse(Some(&page), Some(&size), 10, 50).expect("valid");
                let expected = full_scan(&snapshot, term.as_ref(), min, max, request);
                let found = snapshot
                    .search(term.as_ref(), min, max, request)
                    .map(|p| (p.count, p.items.iter().map(|c| c.id).collect::<Vec<_>>()));
                match (&expected, &found) {
                    (Ok(e), Ok(f)) => {
                        assert_eq!(e, f, "{raw:?} {min:?}..{max:?} page {page} of {size}");
                        nonempty += usize::from(e.0 > 0 && term.is_some());
                    }
                    (Err(AppError::NotFound(e)), Err(AppError::NotFound(f))) => assert_eq!(e, f),
                    _ => panic!("{raw:?}: {expected:?} against {found:?}"),
                }
                compared += 1;
            }
        }
        assert_eq!(compared, 12_000);
        assert!(nonempty > 4_000, "the terms must find something often: {nonempty}");
    }

    /// A list page as it was made before the orders were kept with the snapshot: every
    /// course of the category, stable-sorted by the ordering, then the page.
    fn list_by_scan(
        s: &Snapshot,
        category: Option<i64>,
        ordering: Ordering,
        request: PageRequest,
    ) -> AppResult<(u64, Vec<i64>)> {
        let mut hits: Vec<&Arc<CourseView>> =
            s.courses.iter().filter(|c| category.is_none_or(|id| c.category_id == Some(id))).collect();
        match ordering {
            Ordering::Orders => {}
            Ordering::Students => hits.sort_by_key(|c| c.students),
            Ordering::StudentsDesc => hits.sort_by_key(|c| std::cmp::Reverse(c.students)),
            Ordering::Price => hits.sort_by_key(|c| c.price),
            Ordering::PriceDesc => hits.sort_by_key(|c| std::cmp::Reverse(c.price)),
        }
        let page = page_of(&hits, request)?;
        Ok((page.count, page.items.iter().map(|c| c.id).collect()))
    }

    /// Every list page (each ordering, no category, each category, an unknown one; first,
    /// middle, last and past-the-end pages) equals the page of a sorted scan, for catalogs
    /// with ties in prices and learner counts; and after the learner counts change, the new
    /// snapshot's lists follow them although the old one's orders were made already.
    #[test]
    fn a_list_page_is_the_page_of_a_sorted_scan() {
        let mut rng = StdRng::seed_from_u64(202_612_012);
        let mut compared = 0;
        for _ in 0..60 {
            let (teachers, mut courses) = catalog_rows(&mut rng);
            for c in &mut courses {
                c.course_category_id = rng.gen_bool(0.9).then(|| rng.gen_range(1..=4));
                c.students = rng.gen_range(0..6);
            }
            let snapshot = built(1, &teachers, &courses);
            let counts: Vec<(i64, i32)> = courses.iter().map(|c| (c.id, rng.gen_range(0..6))).collect();
            let mut snapshots = vec![snapshot];
            for round in 0..2 {
                let s = snapshots.last().expect("one");
                for category in [None, Some(1), Some(2), Some(3), Some(4), Some(99)] {
                    for (_, ordering) in Ordering::VALUES {
                        for (page, size) in [("1", "10"), ("2", "10"), ("3", "7"), ("1", "50"), ("40", "20")]
                        {
                            let request = PageRequest::parse(Some(page), Some(size), 10, 50).expect("valid");
                            let listed = s
                                .list(category, ordering, request)
                                .map(|p| (p.count, p.items.iter().map(|c| c.id).collect::<Vec<_>>()));
                            let scanned = list_by_scan(s, category, ordering, request);
                            match (listed, scanned) {
                                (Ok(a), Ok(b)) => assert_eq!(a, b, "{category:?} {ordering:?} {page}/{size}"),
                                (Err(a), Err(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
                                (a, b) => {
                                    panic!("{category:?} {ordering:?} {page}/{size}: {a:?} against {b:?}")
                                }
                            }
                            compared += 1;
                        }
                    }
                }
                if round == 0 {
                    let Some(next) = snapshots[0].with_learners(&counts) else { break };
                    snapshots.push(next);
                }
            }
        }
        assert!(compared > 10_000, "{compared}");
    }

    /// Snapshots updated again and again with what changed (as `Catalog::refresh` does)
    /// answer every search and list exactly as a snapshot built from every row at the same
    /// revision, with the same course views, whether the name index keeps recent names or
    /// rebuilds (a small limit forces it): courses added, renamed, repriced, moved, hidden,
    /// shown, deleted, given another teacher or other learner counts; teachers renamed (with
    /// or without their courses noted), hidden and shown again.
    #[test]
    fn an_updated_snapshot_answers_as_one_built_from_scratch() {
        let mut rng = StdRng::seed_from_u64(20_261_201);
        let mut compared = 0;
        let mut rebuilt_names = 0;
        for _ in 0..120 {
            let (mut teachers, mut courses) = catalog_rows(&mut rng);
            let mut next_id = courses.len() as i64 + 1;
            let mut revision = 1;
            let mut updated = built(revision, &teachers, &courses);
            let limit = *[0, 5, 10_000].choose(&mut rng).expect("non-empty");
            for _ in 0..12 {
                revision += 1;
                let mut changed: Vec<i64> = Vec::new();
                for _ in 0..rng.gen_range(0..6) {
                    let at = (!courses.is_empty()).then(|| rng.gen_range(0..courses.len()));
                    match (rng.gen_range(0..10), at) {
                        (0, _) | (_, None) => {
                            courses.push(course_row(&mut rng, next_id, &teachers));
                            changed.push(next_id);
                            next_id += 1;
                        }
                        (1, Some(i)) => courses[i].name = course_name(&mut rng, &teachers),
                        (2, Some(i)) => courses[i].price_fen = price(&mut rng),
                        (3, Some(i)) => courses[i].orders = rng.gen_range(0..10),
                        (4, Some(i)) => courses[i].is_show = !courses[i].is_show,
                        (5, Some(i)) => {
                            changed.push(courses.remove(i).id);
                        }
                        (6, Some(i)) => courses[i].teacher_id = rng.gen_range(1..=teachers.len() as i64 + 1),
                        (7, Some(i)) => courses[i].brief = text(&mut rng, 4),
                        (8, _) => {
                            // A teacher renamed, or hidden or shown: its courses are noted
                            // (`Changed::CoursesOf`), except sometimes for a rename.
                            let t = rng.gen_range(0..teachers.len());
                            let id = teachers[t].id;
                            if rng.gen_bool(0.5) {
                                teachers[t].name = text(&mut rng, 5);
                                if rng.gen_bool(0.5) {
                                    continue;
                                }
                            } else {
                                teachers[t].is_show = !teachers[t].is_show;
                            }
                            changed.extend(courses.iter().filter(|c| c.teacher_id == id).map(|c| c.id));
                            continue;
                        }
                        (_, Some(i)) => {
                            // Learner counts change without a catalog write.
                            courses[i].students += 1;
                            continue;
                        }
                    }
                    if let Some(i) = at.filter(|i| *i < courses.len()) {
                        changed.push(courses[i].id);
                    }
                }
                changed.sort_unstable();
                changed.dedup();
                let rows = CatalogRows {
                    teachers: teachers.clone(),
                    courses: courses.iter().filter(|c| changed.contains(&c.id)).cloned().collect(),
                    ..CatalogRows::default()
                };
                let listing = ListingRows { rows, first_sections: HashMap::new() };
                updated = updated.update_with(revision, listing, &changed, limit);
                let counts: Vec<(i64, i32)> = courses.iter().map(|c| (c.id, c.students)).collect();
                if let Some(with_counts) = updated.with_learners(&counts) {
                    updated = with_counts;
                }
                rebuilt_names += usize::from(updated.placed.names.recent_len() == 0);
                let scratch = built(revision, &teachers, &courses);
                let ids = |s: &Snapshot| s.courses.iter().map(|c| c.id).collect::<Vec<_>>();
                assert_eq!(ids(&updated), ids(&scratch));
                for (a, b) in updated.courses.iter().zip(&scratch.courses) {
                    assert_eq!(format!("{a:?}"), format!("{b:?}"));
                }
                assert_eq!(updated.revision(), revision);
                for (_, ordering) in Ordering::VALUES {
                    let request = PageRequest::parse(Some("1"), Some("50"), 10, 50).expect("valid");
                    let ids = |s: &Snapshot| {
                        s.list(None, ordering, request)
                            .map(|p| (p.count, p.items.iter().map(|c| c.id).collect::<Vec<_>>()))
                            .ok()
                    };
                    assert_eq!(ids(&updated), ids(&scratch), "{ordering:?}");
                }
                for _ in 0..15 {
                    let raw = term(&mut rng, &scratch);
                    let term = SearchTerm::parse(&raw, SearchTerm::MAX_CHARS).expect("short");
                    let min = rng.gen_bool(0.2).then(|| price(&mut rng));
                    let page = rng.gen_range(1..4).to_string();
                    let request = PageRequest::parse(Some(&page), Some("3"), 10, 50).expect("valid");
                    let answer = |s: &Snapshot| {
                        s.search(term.as_ref(), min, None, request)
                            .map(|p| (p.count, p.items.iter().map(|c| c.id).collect::<Vec<_>>()))
                            .map_err(|e| format!("{e:?}"))
                    };
                    assert_eq!(answer(&updated), answer(&scratch), "{raw:?} from {min:?}, page {page}");
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, 120 * 12 * 15);
        assert!(rebuilt_names > 0, "the name index must be rebuilt sometimes");
    }
}
