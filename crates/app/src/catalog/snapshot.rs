//! The immutable, query-ready form of the public catalog.
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use shop_db::catalog::ListingRows;
use shop_db::entities::{chapter, section};
use shop_domain::Money;
use shop_domain::catalog::{CourseStatus, CourseType, Level, SectionType, TeacherRole};
use shop_domain::paging::PageRequest;
use shop_domain::search::{self, SearchTerm};

use super::index::GramIndex;
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
#[derive(Debug, Clone)]
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
    /// Public courses by display priority, then id.
    courses: Vec<Arc<CourseView>>,
    /// Folded course and teacher names, aligned with `courses`.
    folded: Vec<(String, String)>,
    by_id: HashMap<i64, usize>,
    /// Search candidates by course name: positions in `courses`.
    names: GramIndex,
    /// Search candidates by teacher name: positions in `teacher_courses`.
    teacher_names: GramIndex,
    /// The positions in `courses` of each teacher's courses, ascending.
    teacher_courses: Vec<Vec<u32>>,
    /// The positions in `courses` of the courses of each price, ascending.
    by_price: HashMap<Money, Vec<u32>>,
}

/// The sort key of a search hit ([`search::rank_course`]).
type HitKey = (search::MatchClass, u8, i32, i64);

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

/// A page of a list of references, cloning only the page's items.
fn page_cloned(all: &[&Arc<CourseView>], request: PageRequest) -> AppResult<Page<Arc<CourseView>>> {
    let page = page_of(all, request)?;
    Ok(Page { count: page.count, items: page.items.into_iter().map(Arc::clone).collect(), request })
}

impl Snapshot {
    /// Builds the public view of the rows: shown, not deleted, with references resolved.
    /// A course whose teacher is hidden or missing is left out. The rows' chapters and
    /// sections are not used: a course's first sections come in `first_sections`, and the
    /// chapters are read per course ([`super::chapters`]).
    pub fn build(revision: i64, rows: ListingRows, _now: DateTime<Utc>) -> Self {
        let ListingRows { rows, mut first_sections } = rows;
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
        let teachers: HashMap<i64, Arc<TeacherView>> = rows
            .teachers
            .iter()
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
                (t.id, Arc::new(view))
            })
            .collect();

        let mut courses = Vec::new();
        let mut folded = Vec::new();
        let mut by_id = HashMap::new();
        let mut teacher_place: HashMap<i64, usize> = HashMap::new();
        let mut teacher_folded: Vec<String> = Vec::new();
        let mut teacher_courses: Vec<Vec<u32>> = Vec::new();
        let mut by_price: HashMap<Money, Vec<u32>> = HashMap::new();
        for c in rows.courses.iter().filter(|c| c.is_show) {
            let Some(teacher) = teachers.get(&c.teacher_id) else {
                continue;
            };
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
            let view = CourseView {
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
            };
            let position = u32::try_from(courses.len()).expect("fewer than 2^32 courses");
            let place = *teacher_place.entry(teacher.id).or_insert_with(|| {
                teacher_folded.push(search::fold(&teacher.name));
                teacher_courses.push(Vec::new());
                teacher_courses.len() - 1
            });
            teacher_courses[place].push(position);
            by_price.entry(view.price).or_default().push(position);
            by_id.insert(c.id, courses.len());
            folded.push((search::fold(&view.name), teacher_folded[place].clone()));
            courses.push(Arc::new(view));
        }
        let names = GramIndex::build(folded.iter().map(|(name, _)| name.as_str()));
        let teacher_names = GramIndex::build(teacher_folded.iter().map(String::as_str));
        Snapshot {
            revision,
            categories,
            banners,
            courses,
            folded,
            by_id,
            names,
            teacher_names,
            teacher_courses,
            by_price,
        }
    }

    /// The database revision this snapshot was built from.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Number of public courses.
    pub fn course_count(&self) -> usize {
        self.courses.len()
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
        self.by_id.get(&id).map(|&i| &self.courses[i])
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
        let mut hits: Vec<&Arc<CourseView>> =
            self.courses.iter().filter(|c| category.is_none_or(|id| c.category_id == Some(id))).collect();
        match ordering {
            Ordering::Orders => {}
            Ordering::Students => hits.sort_by_key(|c| c.students),
            Ordering::StudentsDesc => hits.sort_by_key(|c| std::cmp::Reverse(c.students)),
            Ordering::Price => hits.sort_by_key(|c| c.price),
            Ordering::PriceDesc => hits.sort_by_key(|c| std::cmp::Reverse(c.price)),
        }
        page_cloned(&hits, request)
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
        let in_range = |c: &CourseView| {
            min_price.is_none_or(|min| c.price >= min) && max_price.is_none_or(|max| c.price <= max)
        };
        let Some(term) = term else {
            // Every course in range, in display order: the order of `courses`.
            let hits: Vec<&Arc<CourseView>> = self.courses.iter().filter(|c| in_range(c)).collect();
            return page_cloned(&hits, request);
        };
        // Candidates from the indexes (a superset of the matches), then the one rule.
        let mut candidates: Vec<u32> = self.names.candidates(term.as_str()).to_vec();
        let mut sources = usize::from(!candidates.is_empty());
        for &teacher in self.teacher_names.candidates(term.as_str()) {
            candidates.extend_from_slice(&self.teacher_courses[teacher as usize]);
            sources += 1;
        }
        if let Some(list) = term.price().and_then(|price| self.by_price.get(&price)) {
            candidates.extend_from_slice(list);
            sources += 1;
        }
        if sources > 1 {
            candidates.sort_unstable();
            candidates.dedup();
        }
        let hits: Vec<(HitKey, u32)> = candidates
            .into_iter()
            .filter_map(|position| {
                let i = position as usize;
                let c = &self.courses[i];
                if !in_range(c) {
                    return None;
                }
                let (name, teacher) = &self.folded[i];
                search::rank_course(term, name, teacher, c.price, c.orders, c.id).map(|key| (key, position))
            })
            .collect();
        self.best_page(hits, request)
    }

    /// The page `request` of `hits` in key order, sorting only up to the page's end.
    fn best_page(
        &self,
        mut hits: Vec<(HitKey, u32)>,
        request: PageRequest,
    ) -> AppResult<Page<Arc<CourseView>>> {
        let count = hits.len() as u64;
        let (start, end) = bounds(hits.len(), request)?;
        if end < hits.len() {
            hits.select_nth_unstable_by_key(end, |(key, _)| *key);
            hits.truncate(end);
        }
        hits.sort_unstable_by_key(|(key, _)| *key);
        let items =
            hits[start..].iter().map(|(_, position)| Arc::clone(&self.courses[*position as usize])).collect();
        Ok(Page { count, items, request })
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};
    use shop_db::catalog::CatalogRows;
    use shop_db::entities::{course, teacher};

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
        let mut hits: Vec<(HitKey, i64)> = snapshot
            .courses
            .iter()
            .zip(&snapshot.folded)
            .filter(|(c, _)| {
                min_price.is_none_or(|min| c.price >= min) && max_price.is_none_or(|max| c.price <= max)
            })
            .filter_map(|(c, (name, teacher))| match term {
                None => Some(((search::MatchClass::Exact, 0u8, c.orders, c.id), c.id)),
                Some(t) => {
                    search::rank_course(t, name, teacher, c.price, c.orders, c.id).map(|key| (key, c.id))
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

    fn catalog(rng: &mut StdRng) -> Snapshot {
        let now = Utc::now();
        let teachers: Vec<teacher::Model> = (1..=rng.gen_range(1..6))
            .map(|id| teacher::Model {
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
            })
            .collect();
        let mut courses: Vec<course::Model> = (1..=rng.gen_range(0..80))
            .map(|id| course::Model {
                id,
                name: text(rng, 8),
                course_type: 1,
                course_category_id: None,
                teacher_id: rng.gen_range(1..=teachers.len() as i64 + 1),
                course_img: String::new(),
                brief: String::new(),
                level: 0,
                status: 0,
                price_fen: Money::from_fen(*PRICES.choose(rng).expect("non-empty")).expect("in range"),
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
            })
            .collect();
        // As the database reads them: by display priority, then id.
        courses.sort_by_key(|c| (c.orders, c.id));
        let rows = CatalogRows { teachers, courses, ..CatalogRows::default() };
        Snapshot::build(1, ListingRows { rows, first_sections: HashMap::new() }, now)
    }

    fn term(rng: &mut StdRng, snapshot: &Snapshot) -> String {
        let names: Vec<&str> =
            snapshot.courses.iter().flat_map(|c| [c.name.as_str(), c.teacher.name.as_str()]).collect();
        match rng.gen_range(0..4) {
            0 => text(rng, 4),
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
        assert!(nonempty > 3_000, "the terms must find something often: {nonempty}");
    }
}
