//! The immutable, query-ready form of the public catalog.
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use shop_db::catalog::CatalogRows;
use shop_domain::Money;
use shop_domain::catalog::{CourseStatus, CourseType, Level, SectionType, TeacherRole};
use shop_domain::paging::PageRequest;
use shop_domain::search::{self, SearchTerm};

use crate::error::{AppError, AppResult};

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
    /// Up to four first sections.
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
    chapters: HashMap<i64, Arc<[ChapterView]>>,
}

fn page_of<T: Clone>(all: &[T], request: PageRequest) -> AppResult<Page<T>> {
    let count = all.len() as u64;
    if !request.exists_for(count) {
        return Err(AppError::NotFound("page"));
    }
    let start = usize::try_from(request.offset()).unwrap_or(usize::MAX).min(all.len());
    let end = start.saturating_add(usize::try_from(request.size()).unwrap_or(usize::MAX)).min(all.len());
    Ok(Page { count, items: all[start..end].to_vec(), request })
}

/// A page of a list of references, cloning only the page's items.
fn page_cloned(all: &[&Arc<CourseView>], request: PageRequest) -> AppResult<Page<Arc<CourseView>>> {
    let page = page_of(all, request)?;
    Ok(Page { count: page.count, items: page.items.into_iter().map(Arc::clone).collect(), request })
}

impl Snapshot {
    /// Builds the public view of the rows: shown, not deleted, with references resolved.
    /// A course whose teacher is hidden or missing is left out.
    pub fn build(revision: i64, rows: CatalogRows, _now: DateTime<Utc>) -> Self {
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

        let mut sections_by_chapter: HashMap<i64, Vec<SectionView>> = HashMap::new();
        for s in rows.sections.iter().filter(|s| s.is_show) {
            sections_by_chapter.entry(s.chapter_id).or_default().push(SectionView {
                id: s.id,
                name: s.name.clone(),
                orders: s.orders,
                section_type: SectionType::try_from(s.section_type).unwrap_or(SectionType::Video),
                section_link: s.section_link.clone(),
                duration: s.duration.clone(),
                pub_date: s.pub_date,
                free_trail: s.free_trail,
                chapter: s.chapter_id,
            });
        }
        let mut chapters_by_course: HashMap<i64, Vec<ChapterView>> = HashMap::new();
        for c in rows.chapters.iter().filter(|c| c.is_show) {
            chapters_by_course.entry(c.course_id).or_default().push(ChapterView {
                id: c.id,
                name: c.name.clone(),
                chapter: c.chapter,
                summary: c.summary.clone(),
                coursesections: sections_by_chapter.remove(&c.id).unwrap_or_default(),
            });
        }

        let mut courses = Vec::new();
        let mut folded = Vec::new();
        let mut by_id = HashMap::new();
        let mut chapters = HashMap::new();
        for c in rows.courses.iter().filter(|c| c.is_show) {
            let Some(teacher) = teachers.get(&c.teacher_id) else {
                continue;
            };
            let course_chapters = chapters_by_course.remove(&c.id).unwrap_or_default();
            let section_list = course_chapters
                .iter()
                .flat_map(|ch| ch.coursesections.iter())
                .take(4)
                .map(|s| SectionBrief {
                    id: s.id,
                    name: s.name.clone(),
                    section_link: s.section_link.clone(),
                    duration: s.duration.clone(),
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
            by_id.insert(c.id, courses.len());
            folded.push((search::fold(&view.name), search::fold(&view.teacher.name)));
            chapters.insert(c.id, Arc::from(course_chapters));
            courses.push(Arc::new(view));
        }
        Snapshot { revision, categories, banners, courses, folded, by_id, chapters }
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

    /// The chapters of a public course, by chapter number.
    pub fn chapters(&self, course_id: i64) -> Option<Arc<[ChapterView]>> {
        self.chapters.get(&course_id).cloned()
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
        let mut hits: Vec<(_, &Arc<CourseView>)> = self
            .courses
            .iter()
            .zip(&self.folded)
            .filter(|(c, _)| in_range(c))
            .filter_map(|(c, (name, teacher))| match term {
                None => Some(((search::MatchClass::Exact, 0u8, c.orders, c.id), c)),
                Some(t) => search::rank_course(t, name, teacher, c.price, c.orders, c.id).map(|key| (key, c)),
            })
            .collect();
        hits.sort_unstable_by_key(|(key, _)| *key);
        let hits: Vec<&Arc<CourseView>> = hits.into_iter().map(|(_, c)| c).collect();
        page_cloned(&hits, request)
    }
}
