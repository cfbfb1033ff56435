# Build: docker build -t course-shop .   (used by docker-compose.yml)
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin course-shop

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home course-shop && mkdir -p /var/lib/course-shop && chown course-shop /var/lib/course-shop
COPY --from=build /src/target/release/course-shop /usr/local/bin/course-shop
USER course-shop
WORKDIR /var/lib/course-shop
ENV COURSE_SHOP_PROFILE=production
EXPOSE 8000
CMD ["course-shop", "serve"]
