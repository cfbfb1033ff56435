//! The first schema: accounts, SMS codes, the catalog (banners, categories, teachers,
//! courses, chapters, sections), the order tables of the seed, and the catalog revision
//! counter that tells running servers to reload their in-memory catalog.
// sea-orm-migration 2 declares `up`/`down` with an elided `SchemaManager` lifetime; naming it
// here makes the impl signature differ from the trait.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::{prelude::*, schema::*};

use crate::helpers::{fk, index, unique};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    Email,
    Mobile,
    PasswordHash,
    Icon,
    Role,
    IsActive,
    CreatedTime,
    UpdatedTime,
}

#[derive(DeriveIden)]
enum SmsCodes {
    Table,
    Id,
    Mobile,
    CodeHash,
    ExpiresAt,
    UsedAt,
    Attempts,
    CreatedTime,
}

#[derive(DeriveIden)]
enum Banners {
    Table,
    Id,
    Title,
    Image,
    Link,
}

#[derive(DeriveIden)]
enum CourseCategories {
    Table,
    Id,
    Name,
}

#[derive(DeriveIden)]
enum Teachers {
    Table,
    Id,
    Name,
    Role,
    Title,
    Signature,
    Image,
    Brief,
}

#[derive(DeriveIden)]
enum Courses {
    Table,
    Id,
    Name,
    CourseType,
    CourseCategoryId,
    TeacherId,
    CourseImg,
    Brief,
    Level,
    Status,
    PriceFen,
    Period,
    AttachmentPath,
    Students,
    PubSections,
    Sections,
}

#[derive(DeriveIden)]
enum Chapters {
    Table,
    Id,
    CourseId,
    Chapter,
    Name,
    Summary,
    PubDate,
}

#[derive(DeriveIden)]
enum Sections {
    Table,
    Id,
    ChapterId,
    Name,
    SectionType,
    SectionLink,
    Duration,
    PubDate,
    FreeTrail,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    Subject,
    TotalAmountFen,
    OutTradeNo,
    TradeNo,
    OrderStatus,
    PayType,
    PayTime,
    UserId,
}

#[derive(DeriveIden)]
enum OrderDetails {
    Table,
    Id,
    OrderId,
    CourseId,
    PriceFen,
    RealPriceFen,
}

#[derive(DeriveIden)]
enum CatalogRevision {
    Table,
    Id,
    Revision,
    UpdatedTime,
}

/// The tutorial's common columns: `orders` (display priority), `is_show`, `is_delete`,
/// `created_time`, `updated_time`.
#[derive(DeriveIden)]
enum Common {
    Orders,
    IsShow,
    IsDelete,
    CreatedTime,
    UpdatedTime,
}

fn with_common(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table
        .col(integer(Common::Orders).default(0))
        .col(boolean(Common::IsShow).default(true))
        .col(boolean(Common::IsDelete).default(false))
        .col(timestamp_with_time_zone(Common::CreatedTime))
        .col(timestamp_with_time_zone(Common::UpdatedTime))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big_pk_auto(Users::Id))
                    .col(string_len(Users::Username, 64))
                    .col(string_len_null(Users::Email, 254))
                    .col(string_len_null(Users::Mobile, 16))
                    .col(string_len(Users::PasswordHash, 255))
                    .col(string_len(Users::Icon, 255).default(""))
                    .col(string_len(Users::Role, 16).default("user"))
                    .col(boolean(Users::IsActive).default(true))
                    .col(timestamp_with_time_zone(Users::CreatedTime))
                    .col(timestamp_with_time_zone(Users::UpdatedTime))
                    .to_owned(),
            )
            .await?;
        manager.create_index(unique("uq_users_username", Users::Table, &["username"])).await?;
        manager.create_index(unique("uq_users_email", Users::Table, &["email"])).await?;
        manager.create_index(unique("uq_users_mobile", Users::Table, &["mobile"])).await?;

        manager
            .create_table(
                Table::create()
                    .table(SmsCodes::Table)
                    .col(big_pk_auto(SmsCodes::Id))
                    .col(string_len(SmsCodes::Mobile, 16))
                    .col(string_len(SmsCodes::CodeHash, 64))
                    .col(timestamp_with_time_zone(SmsCodes::ExpiresAt))
                    .col(timestamp_with_time_zone_null(SmsCodes::UsedAt))
                    .col(integer(SmsCodes::Attempts).default(0))
                    .col(timestamp_with_time_zone(SmsCodes::CreatedTime))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ix_sms_codes_mobile_created", SmsCodes::Table, &["mobile", "created_time"]))
            .await?;

        let mut banners = Table::create()
            .table(Banners::Table)
            .col(big_pk_auto(Banners::Id))
            .col(string_len(Banners::Title, 128))
            .col(string_len(Banners::Image, 255))
            .col(string_len(Banners::Link, 255).default(""))
            .take();
        manager.create_table(with_common(&mut banners).take()).await?;
        manager
            .create_index(index("ix_banners_public", Banners::Table, &["is_delete", "is_show", "orders"]))
            .await?;

        let mut categories = Table::create()
            .table(CourseCategories::Table)
            .col(big_pk_auto(CourseCategories::Id))
            .col(string_len(CourseCategories::Name, 64))
            .take();
        manager.create_table(with_common(&mut categories).take()).await?;

        let mut teachers = Table::create()
            .table(Teachers::Table)
            .col(big_pk_auto(Teachers::Id))
            .col(string_len(Teachers::Name, 64))
            .col(small_integer(Teachers::Role).default(0))
            .col(string_len(Teachers::Title, 128).default(""))
            .col(string_len(Teachers::Signature, 255).default(""))
            .col(string_len(Teachers::Image, 255).default(""))
            .col(text(Teachers::Brief))
            .take();
        manager.create_table(with_common(&mut teachers).take()).await?;

        let mut courses = Table::create()
            .table(Courses::Table)
            .col(big_pk_auto(Courses::Id))
            .col(string_len(Courses::Name, 128))
            .col(small_integer(Courses::CourseType).default(1))
            .col(big_integer_null(Courses::CourseCategoryId))
            .col(big_integer(Courses::TeacherId))
            .col(string_len(Courses::CourseImg, 255).default(""))
            .col(text(Courses::Brief))
            .col(small_integer(Courses::Level).default(0))
            .col(small_integer(Courses::Status).default(0))
            .col(big_integer(Courses::PriceFen).default(0))
            .col(integer(Courses::Period).default(365))
            .col(string_len(Courses::AttachmentPath, 255).default(""))
            .col(integer(Courses::Students).default(0))
            .col(integer(Courses::PubSections).default(0))
            .col(integer(Courses::Sections).default(0))
            .check(Expr::col(Courses::PriceFen).gte(0))
            .foreign_key(&mut fk(
                "fk_courses_course_category",
                (Courses::Table, Courses::CourseCategoryId),
                (CourseCategories::Table, CourseCategories::Id),
            ))
            .foreign_key(&mut fk(
                "fk_courses_teacher",
                (Courses::Table, Courses::TeacherId),
                (Teachers::Table, Teachers::Id),
            ))
            .take();
        manager.create_table(with_common(&mut courses).take()).await?;
        manager
            .create_index(index("ix_courses_public", Courses::Table, &["is_delete", "is_show", "orders"]))
            .await?;
        manager
            .create_index(index("ix_courses_category", Courses::Table, &["course_category_id", "orders"]))
            .await?;
        manager.create_index(index("ix_courses_teacher", Courses::Table, &["teacher_id"])).await?;

        let mut chapters = Table::create()
            .table(Chapters::Table)
            .col(big_pk_auto(Chapters::Id))
            .col(big_integer(Chapters::CourseId))
            .col(integer(Chapters::Chapter).default(1))
            .col(string_len(Chapters::Name, 128))
            .col(text(Chapters::Summary))
            .col(timestamp_with_time_zone(Chapters::PubDate))
            .foreign_key(&mut fk(
                "fk_chapters_course",
                (Chapters::Table, Chapters::CourseId),
                (Courses::Table, Courses::Id),
            ))
            .take();
        manager.create_table(with_common(&mut chapters).take()).await?;
        manager.create_index(index("ix_chapters_course", Chapters::Table, &["course_id", "chapter"])).await?;

        let mut sections = Table::create()
            .table(Sections::Table)
            .col(big_pk_auto(Sections::Id))
            .col(big_integer(Sections::ChapterId))
            .col(string_len(Sections::Name, 128))
            .col(small_integer(Sections::SectionType).default(2))
            .col(string_len(Sections::SectionLink, 255).default(""))
            .col(string_len(Sections::Duration, 32).default(""))
            .col(timestamp_with_time_zone(Sections::PubDate))
            .col(boolean(Sections::FreeTrail).default(false))
            .foreign_key(&mut fk(
                "fk_sections_chapter",
                (Sections::Table, Sections::ChapterId),
                (Chapters::Table, Chapters::Id),
            ))
            .take();
        manager.create_table(with_common(&mut sections).take()).await?;
        manager
            .create_index(index("ix_sections_chapter", Sections::Table, &["chapter_id", "orders"]))
            .await?;

        let mut orders = Table::create()
            .table(Orders::Table)
            .col(big_pk_auto(Orders::Id))
            .col(string_len(Orders::Subject, 256))
            .col(big_integer(Orders::TotalAmountFen))
            .col(string_len(Orders::OutTradeNo, 64))
            .col(string_len_null(Orders::TradeNo, 64))
            .col(small_integer(Orders::OrderStatus).default(0))
            .col(small_integer(Orders::PayType).default(1))
            .col(timestamp_with_time_zone_null(Orders::PayTime))
            .col(big_integer(Orders::UserId))
            .check(Expr::col(Orders::TotalAmountFen).gte(0))
            .check(Expr::col(Orders::OrderStatus).between(0, 5))
            .foreign_key(&mut fk(
                "fk_orders_user",
                (Orders::Table, Orders::UserId),
                (Users::Table, Users::Id),
            ))
            .take();
        manager.create_table(with_common(&mut orders).take()).await?;
        manager.create_index(unique("uq_orders_out_trade_no", Orders::Table, &["out_trade_no"])).await?;
        manager
            .create_index(index("ix_orders_user_created", Orders::Table, &["user_id", "created_time"]))
            .await?;
        manager
            .create_index(index("ix_orders_status_created", Orders::Table, &["order_status", "created_time"]))
            .await?;

        let mut details = Table::create()
            .table(OrderDetails::Table)
            .col(big_pk_auto(OrderDetails::Id))
            .col(big_integer(OrderDetails::OrderId))
            .col(big_integer(OrderDetails::CourseId))
            .col(big_integer(OrderDetails::PriceFen))
            .col(big_integer(OrderDetails::RealPriceFen))
            .foreign_key(&mut fk(
                "fk_order_details_order",
                (OrderDetails::Table, OrderDetails::OrderId),
                (Orders::Table, Orders::Id),
            ))
            .foreign_key(&mut fk(
                "fk_order_details_course",
                (OrderDetails::Table, OrderDetails::CourseId),
                (Courses::Table, Courses::Id),
            ))
            .take();
        manager.create_table(with_common(&mut details).take()).await?;
        manager
            .create_index(unique(
                "uq_order_details_order_course",
                OrderDetails::Table,
                &["order_id", "course_id"],
            ))
            .await?;
        manager.create_index(index("ix_order_details_course", OrderDetails::Table, &["course_id"])).await?;

        manager
            .create_table(
                Table::create()
                    .table(CatalogRevision::Table)
                    .col(integer(CatalogRevision::Id).primary_key())
                    .col(big_integer(CatalogRevision::Revision).default(0))
                    .col(timestamp_with_time_zone(CatalogRevision::UpdatedTime))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(CatalogRevision::Table)
                    .columns([CatalogRevision::Id, CatalogRevision::Revision, CatalogRevision::UpdatedTime])
                    .values_panic([1.into(), 0.into(), Expr::current_timestamp()])
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CatalogRevision::Table.into_iden(),
            OrderDetails::Table.into_iden(),
            Orders::Table.into_iden(),
            Sections::Table.into_iden(),
            Chapters::Table.into_iden(),
            Courses::Table.into_iden(),
            Teachers::Table.into_iden(),
            CourseCategories::Table.into_iden(),
            Banners::Table.into_iden(),
            SmsCodes::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
